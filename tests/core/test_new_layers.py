"""Issue 13's layer types in the core catalogue: exact shapes, parameter/buffer counts and MACs
for known cases (figures worked out by hand from torch's formulas), and every invalid
configuration refused by the field to fix, with a fix. (Torch agreement on random graphs is
tests/compiler/test_exactness.py; receptive fields tests/compiler/test_receptive_field.py.)"""
import pytest

from cnn_studio.core import Graph, analyze
from cnn_studio.core.errors import LayerError
from cnn_studio.core.layers import CATEGORIES, all_specs, get_spec

NEW = (
    "conv_transpose2d", "separable_conv2d", "upsample", "groupnorm", "layernorm", "instancenorm2d", "relu6",
    "hardswish", "identity", "zeropad2d", "reshape", "multiply", "mean_hw",
)


def infer(type_id, shapes, **cfg):
    spec = get_spec(type_id)
    canonical, errors = spec.check_config(cfg)
    assert errors == []
    return spec.infer(canonical, shapes)


def refused(type_id, shapes, **cfg) -> LayerError:
    spec = get_spec(type_id)
    canonical, errors = spec.check_config(cfg)
    if errors:
        return errors[0]
    with pytest.raises(LayerError) as e:
        spec.infer(canonical, shapes)
    assert e.value.fix, "a refusal says how to fix it"
    return e.value


def test_every_new_type_is_registered_with_a_teaching_tooltip():
    ids = [s.type_id for s in all_specs()]
    for t in NEW:
        assert t in ids
        spec = get_spec(t)
        assert spec.category in CATEGORIES and len(spec.help) > 120, t  # what it does and when people use it


def test_the_new_category_sits_next_to_pooling_in_the_palette():
    assert CATEGORIES.index("Resampling & reshape") == CATEGORIES.index("Pooling") + 1
    assert {s.type_id for s in all_specs() if s.category == "Resampling & reshape"} == {"upsample", "zeropad2d", "reshape", "identity"}


@pytest.mark.parametrize(
    "cfg,shape,params,macs",
    [
        # (8-1)*2 - 2*1 + 1*(3-1) + 1 + 1 = 16; weight 4 x 6 x 3 x 3 + 6
        (dict(out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1), (6, 16, 16), 4 * 6 * 9 + 6, 8 * 8 * 4 * 6 * 9),
        # groups 2: weight 4 x (6/2) x 2 x 2, no bias; dilation 2: (8-1)*1 + 2*(2-1) + 1 = 10
        (dict(out_channels=6, kernel_size=2, stride=1, dilation=2, groups=2, bias=False), (6, 10, 10), 4 * 3 * 4, 8 * 8 * 4 * 3 * 4),
        (dict(out_channels=2, kernel_size=[2, 4], stride=[2, 1]), (2, 16, 11), 4 * 2 * 8 + 2, 8 * 8 * 4 * 2 * 8),
    ],
)
def test_transposed_convolution_shapes_and_counts(cfg, shape, params, macs):
    inf = infer("conv_transpose2d", [(4, 8, 8)], **cfg)
    assert (inf.shape, inf.trainable, inf.non_trainable, inf.macs) == (shape, params, 0, macs)


def test_separable_convolution_is_a_depthwise_and_a_pointwise_convolution():
    inf = infer("separable_conv2d", [(8, 10, 10)], out_channels=16, kernel_size=3, stride=2, padding=1, bias=True)
    assert inf.shape == (16, 5, 5)
    assert inf.trainable == (8 * 9 + 8) + (8 * 16 + 16)
    assert inf.macs == 5 * 5 * (8 * 9 + 8 * 16)
    full = infer("conv2d", [(8, 10, 10)], out_channels=16, kernel_size=3, stride=2, padding=1)
    assert full.shape == inf.shape and full.macs > 2 * inf.macs  # why MobileNet uses it


@pytest.mark.parametrize(
    "cfg,shape",
    [
        (dict(), (3, 10, 14)),
        (dict(scale_factor=[3, 1], mode="bilinear"), (3, 15, 7)),
        (dict(scale_factor=None, size=[4, 20]), (3, 4, 20)),
        (dict(scale_factor=None, size=9, mode="bilinear", align_corners=True), (3, 9, 9)),
    ],
)
def test_upsample_by_scale_or_to_a_size(cfg, shape):
    inf = infer("upsample", [(3, 5, 7)], **cfg)
    assert inf.shape == shape and inf.trainable == inf.non_trainable == inf.macs == 0


def test_norm_counts():
    assert infer("groupnorm", [(6, 4, 4)], num_groups=3).trainable == 12
    assert infer("groupnorm", [(6, 4, 4)], num_groups=3, affine=False).trainable == 0
    assert infer("groupnorm", [(6,)], num_groups=3).shape == (6,)
    ln = infer("layernorm", [(3, 4, 5)])
    assert (ln.shape, ln.trainable) == ((3, 4, 5), 2 * 60)  # a scale and a shift per value of C x H x W
    assert infer("layernorm", [(10,)], affine=False).trainable == 0
    i = infer("instancenorm2d", [(5, 3, 3)])
    assert (i.trainable, i.non_trainable) == (0, 0)  # torch's defaults: no affine, no running stats
    i = infer("instancenorm2d", [(5, 3, 3)], affine=True, track_running_stats=True)
    assert (i.trainable, i.non_trainable) == (10, 10)


def test_shape_layers():
    assert infer("zeropad2d", [(2, 5, 5)], left=1, right=0, top=2, bottom=3).shape == (2, 10, 6)
    assert infer("identity", [(2, 5, 5)]).shape == (2, 5, 5)
    assert infer("relu6", [(7,)]).shape == infer("hardswish", [(7,)]).shape == (7,)
    assert infer("reshape", [(4, 6, 6)]).shape == (144,)  # the default: a flat vector
    assert infer("reshape", [(144,)], channels=4, height=-1, width=3).shape == (4, 12, 3)
    assert infer("reshape", [(4, 6, 6)], channels=16, height=3, width=3).shape == (16, 3, 3)
    assert infer("mean_hw", [(8, 5, 3)]).shape == (8, 1, 1)
    assert infer("mean_hw", [(8, 5, 3)], keepdim=False).shape == (8,)


def test_multiply_broadcasts_a_channel_gate_over_the_map():
    assert infer("multiply", [(8, 5, 5), (8, 1, 1)]).shape == (8, 5, 5)
    assert infer("multiply", [(1, 1, 1), (8, 5, 5), (8, 5, 1)], inputs=3).shape == (8, 5, 5)
    assert infer("multiply", [(6,), (6,)]).shape == (6,)


@pytest.mark.parametrize(
    "type_id,shapes,cfg,field,fragment",
    [
        ("conv_transpose2d", [(4, 8, 8)], dict(out_channels=5, groups=2), "out_channels", "cannot be split into 2 groups"),
        ("conv_transpose2d", [(3, 8, 8)], dict(out_channels=4, groups=2), "groups", "3 input channels"),
        ("conv_transpose2d", [(4, 8, 8)], dict(stride=2, output_padding=2), "output_padding", "smaller than the stride"),
        ("conv_transpose2d", [(4, 8, 8)], dict(stride=1, dilation=2, output_padding=2), "output_padding", "or the dilation"),
        ("conv_transpose2d", [(4, 1, 1)], dict(kernel_size=1, stride=1, padding=1), "padding", "output would be"),
        ("conv_transpose2d", [(4,)], dict(), None, "feature map"),
        ("separable_conv2d", [(4, 2, 2)], dict(kernel_size=5, padding=0), "kernel_size", "larger than its padded input"),
        ("separable_conv2d", [(4, 8, 8)], dict(stride=2, padding="same"), "padding", "stride 1"),
        ("upsample", [(3, 4, 4)], dict(scale_factor=2, size=8), "size", "got both"),
        ("upsample", [(3, 4, 4)], dict(scale_factor=None), "scale_factor", "got neither"),
        ("upsample", [(3, 4, 4)], dict(align_corners=True), "align_corners", "bilinear"),
        ("upsample", [(3, 4, 4)], dict(mode="bicubic"), "mode", "not one of"),
        ("groupnorm", [(6, 4, 4)], dict(num_groups=4), "num_groups", "6 channels cannot be split into 4 groups"),
        ("groupnorm", [(4, 1, 1)], dict(num_groups=4), "num_groups", "one value per image"),
        ("instancenorm2d", [(4, 1, 1)], dict(), None, "1x1 map"),
        ("reshape", [(4, 6, 6)], dict(channels=10, height=3, width=3), "channels", "holds 90 values but the input 4x6x6 has 144"),
        ("reshape", [(4, 6, 6)], dict(channels=-1, height=-1, width=3), "height", "only one axis can be inferred"),
        ("reshape", [(4, 6, 6)], dict(channels=5, height=-1, width=2), "height", "cannot be split"),
        ("reshape", [(4, 6, 6)], dict(channels=4, height=36), "width", "needs channels, height and width"),
        ("reshape", [(4, 6, 6)], dict(channels=0), "channels", "0 is not a size"),
        ("multiply", [(8, 5, 5), (4, 1, 1)], dict(), None, "do not broadcast"),
        ("multiply", [(8, 5, 5), (8,)], dict(), None, "cannot multiply a map"),
        ("mean_hw", [(8,)], dict(), None, "feature map"),
        ("zeropad2d", [(2, 4, 4)], dict(left=-1), "left", "at least 0"),
    ],
)
def test_invalid_configs_are_refused_by_name_with_a_fix(type_id, shapes, cfg, field, fragment):
    err = refused(type_id, shapes, **cfg)
    assert err.field == field
    assert fragment in str(err)


def test_a_refusal_reaches_the_node_in_the_analysis():
    g = Graph()
    inp = g.add_node("input", {"channels": 3, "height": 8, "width": 8}).id
    gn = g.add_node("groupnorm", {"num_groups": 2}).id
    g.connect(inp, gn)
    issues = analyze(g).issues_for(gn)
    assert [i.field for i in issues if i.severity == "error" and "groups" in i.message] == ["num_groups"]
