"""Graphs shared by the export and import tests."""
import torch

from cnn_studio.core import Graph


def concat_graph() -> Graph:
    """Two branches (1x1 conv, 3x3 conv + BN + LeakyReLU) concatenated on channels."""
    g = Graph("inception mini")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="input")
    g.add_node("conv2d", {"out_channels": 4, "kernel_size": 1}, node_id="branch_a")
    g.add_node("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1, "bias": False}, node_id="branch_b")
    g.add_node("batchnorm2d", {}, node_id="branch_b_bn")
    g.add_node("leaky_relu", {"negative_slope": 0.2}, node_id="branch_b_act")
    g.add_node("concat", {"inputs": 2}, node_id="merged")
    g.add_node("maxpool2d", {"kernel_size": 2}, node_id="pool")
    g.add_node("flatten", {}, node_id="flat")
    g.add_node("dropout", {"p": 0.3}, node_id="drop")
    g.add_node("linear", {"out_features": 5}, node_id="head")
    g.add_node("cross_entropy", {}, node_id="loss")
    g.connect("input", "branch_a")
    g.connect("input", "branch_b")
    g.connect("branch_b", "branch_b_bn")
    g.connect("branch_b_bn", "branch_b_act")
    g.connect("branch_a", "merged", 0, 0)
    g.connect("branch_b_act", "merged", 0, 1)
    for a, b in (("merged", "pool"), ("pool", "flat"), ("flat", "drop"), ("drop", "head"), ("head", "loss")):
        g.connect(a, b)
    return g


def clash_graph() -> Graph:
    """Node ids that are nn.Module attributes ('eval', 'train', 'float', 'cuda'): the compiler
    registers them as 'eval_', 'train_', ...; a keyword id ('lambda') needs a renamed variable."""
    g = Graph("clash")
    g.add_node("input", {"channels": 2, "height": 6, "width": 6}, node_id="input")
    g.add_node("conv2d", {"out_channels": 3, "kernel_size": 3, "padding": "same"}, node_id="eval")
    g.add_node("relu", {}, node_id="train")
    g.add_node("conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1, "padding_mode": "reflect"}, node_id="float")
    g.add_node("add", {"inputs": 2}, node_id="lambda")
    g.add_node("adaptive_avgpool2d", {"output_size": 2}, node_id="cuda")
    g.add_node("flatten", {}, node_id="flatten")
    g.add_node("linear", {"out_features": 3}, node_id="fc")
    g.add_node("cross_entropy", {}, node_id="loss")
    for a, b in (("input", "eval"), ("eval", "train"), ("train", "float"), ("cuda", "flatten"), ("flatten", "fc"), ("fc", "loss")):
        g.connect(a, b)
    g.connect("float", "lambda", 0, 0)
    g.connect("train", "lambda", 0, 1)
    g.connect("lambda", "cuda")
    return g


def randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial running statistics, so eval-mode BatchNorm really does something."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def new_layers_graph() -> Graph:
    """Every layer type of issue 13 in one small network: a transposed conv up, a separable conv
    down, the three batch-independent norms, ReLU6/Hardswish, asymmetric zero padding, bilinear
    upsampling to a size, an identity, a squeeze-and-excitation gate (Mean keepdim -> 1x1 conv ->
    sigmoid -> Multiply), Mean without keepdim, and two reshapes (to a map and back to a vector)."""
    g = Graph("new layers")
    g.add_node("input", {"channels": 3, "height": 8, "width": 8}, node_id="input")
    steps = [
        ("up", "conv_transpose2d", {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}),  # 6x16x16
        ("gn", "groupnorm", {"num_groups": 3}),
        ("act1", "relu6", {}),
        ("sep", "separable_conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1, "bias": True}),  # 8x8x8
        ("inorm", "instancenorm2d", {"affine": True}),  # (running statistics: opset 18 only, see test_new_layers_io)
        ("act2", "hardswish", {}),
        ("pad", "zeropad2d", {"left": 1, "right": 0, "top": 1, "bottom": 0}),  # 8x9x9
        ("resize", "upsample", {"mode": "bilinear", "scale_factor": None, "size": [10, 12]}),  # 8x10x12
        ("same", "identity", {}),
    ]
    prev = "input"
    for nid, t, cfg in steps:
        g.add_node(t, cfg, node_id=nid)
        g.connect(prev, nid)
        prev = nid
    g.add_node("mean_hw", {"keepdim": True}, node_id="squeeze")  # 8x1x1
    g.add_node("conv2d", {"out_channels": 8, "kernel_size": 1}, node_id="excite")
    g.add_node("sigmoid", {}, node_id="gate")
    g.add_node("multiply", {"inputs": 2}, node_id="scaled")
    g.connect("same", "squeeze")
    g.connect("squeeze", "excite")
    g.connect("excite", "gate")
    g.connect("same", "scaled", 0, 0)
    g.connect("gate", "scaled", 0, 1)
    tail = [
        ("ln", "layernorm", {}),
        ("pooled", "mean_hw", {"keepdim": False}),  # 8
        ("as_map", "reshape", {"channels": 2, "height": -1, "width": 2}),  # 2x2x2
        ("as_vector", "reshape", {"channels": -1}),  # 8
        ("head", "linear", {"out_features": 5}),
        ("loss", "cross_entropy", {}),
    ]
    prev = "scaled"
    for nid, t, cfg in tail:
        g.add_node(t, cfg, node_id=nid)
        g.connect(prev, nid)
        prev = nid
    return g
