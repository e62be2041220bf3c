"""The U-Net template compiled: per-pixel class scores of the input's size at odd sizes, counts equal
to the analysis, and gradients reaching the first encoder through the skip concatenations."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import generate_python
from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze


@settings(max_examples=6, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(8, 40), classes=st.integers(2, 6))
def test_unet_compiles_to_per_pixel_scores_at_its_analysed_shapes(h, w, classes):
    g = templates.build("unet", (3, h, w), classes)
    a = analyze(g)
    torch.manual_seed(0)
    m = compile_model(g).eval()
    assert sum(p.numel() for p in m.parameters()) == a.trainable_params
    x = torch.randn(2, 3, h, w)
    ids = ["enc1", "up1", "cat1", "up3", "scores"]
    with torch.no_grad():
        out, cap = m.forward_capture(x, ids)
    assert out.shape == (2, classes)
    for nid in ids:
        assert tuple(cap[nid].shape[1:]) == a.nodes[nid].output_shape, nid
    assert cap["scores"].shape == (2, classes, h, w)
    # the image scores are the per-pixel scores averaged over the image
    assert torch.allclose(out, cap["scores"].mean(dim=(2, 3)), atol=1e-5)


def test_unet_skip_carries_gradient_to_the_first_encoder():
    g = templates.build("unet", (1, 16, 16), 3)
    m = compile_model(g).train()
    loss = torch.nn.functional.cross_entropy(m(torch.randn(4, 1, 16, 16)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    grads = {k: p.grad for k, p in m.named_parameters()}
    assert grads["enc1.conv1.weight"] is not None and grads["enc1.conv1.weight"].abs().sum() > 0
    assert grads["up1.weight"].abs().sum() > 0


@pytest.mark.parametrize("name,size", [("resnet34", 32), ("resnet50", 32), ("mobilenet_v2", 32), ("unet", 17)])
def test_python_export_of_block_templates_reproduces_the_model(name, size):
    """The exported code keeps the blocks as nn.Module classes (one per definition and input shape)
    and loads the compiled model's state_dict strictly, with the same outputs."""
    g = templates.build(name, (3, size, size), 4)
    torch.manual_seed(0)
    m = compile_model(g).eval()
    src = generate_python(g)
    for d in g.blocks.names():
        assert f"class {d}(" in src, d
    ns: dict = {}
    exec(compile(src, f"{name}.py", "exec"), ns)  # noqa: S102 - the test runs the code it generated
    top = [line.split("(")[0][len("class "):] for line in src.splitlines() if line.startswith("class ")][-1]  # the network's class comes last
    assert top not in g.blocks.names()
    exported = ns[top]().eval()
    exported.load_state_dict(m.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.allclose(exported(x), m(x), atol=1e-5)
