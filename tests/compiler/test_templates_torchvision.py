"""The block-built templates are torchvision's networks: published parameter counts at 1000 classes
(224x224, analysis only), the same state_dict keys in the same order, torchvision's weights loaded
with strict=True, and equal outputs in eval mode (small inputs keep it fast)."""
import pytest
import torch
from sample_graphs import randomise_bn

from cnn_studio.compiler import compile_model
from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze

tv = pytest.importorskip("torchvision")

PUBLISHED = {"resnet34": 21_797_672, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_count_at_1000_classes(name):
    g = templates.build(name, (3, 224, 224), 1000)
    a = analyze(g)
    assert a.ok, [str(e) for e in a.errors]
    assert a.trainable_params == PUBLISHED[name]
    assert g.blocks.names(), "built from blocks"
    assert all(n.type != "block" or n.config["block"] in g.blocks for n in g.nodes.values())


def _compare(name, ref, size, classes):
    g = templates.build(name, (3, size, size), classes)
    a = analyze(g)
    torch.manual_seed(0)
    ours = compile_model(g).eval()
    ref = ref.eval()
    randomise_bn(ref)
    want = ref.state_dict()
    assert list(ours.state_dict()) == list(want)  # same keys, same order
    ours.load_state_dict(want, strict=True)
    from cnn_studio.compiler.weights import adapt_state_dict

    assert list(adapt_state_dict(g, want)) == list(want)  # "initialise from weights" takes torchvision's keys as they are
    params = sum(p.numel() for p in ours.parameters())
    assert params == sum(p.numel() for p in ref.parameters()) == a.trainable_params
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got, exp = ours(x), ref(x)
    assert got.shape == (2, classes)
    assert torch.allclose(got, exp, atol=1e-5, rtol=0), (got - exp).abs().max()


def test_resnet34_loads_torchvision_weights_one_to_one():
    _compare("resnet34", tv.models.resnet34(num_classes=10), 32, 10)


def test_resnet50_loads_torchvision_weights_one_to_one():
    _compare("resnet50", tv.models.resnet50(num_classes=10), 32, 10)


def test_mobilenet_v2_loads_torchvision_weights_one_to_one():
    _compare("mobilenet_v2", tv.models.mobilenet_v2(num_classes=10), 32, 10)
