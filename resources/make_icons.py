"""Writes CNN Studio's SVG icons into cnn_studio/resources/icons/ (the package data the app loads).

One icon per layer type, one per palette category and the application icon. Every layer icon is a
24x24 rounded tile in its category's colour with a white line glyph, so the set reads as one family
at 16 px in the palette and scales cleanly on HiDPI screens. Run it after changing a glyph:

    python resources/make_icons.py

The colours are the single source of truth for category colours; the app reads them back from
``cnn_studio/resources/icons/categories.json`` so canvas cards and icons always match.

Only the glyph is kept here, per type id (GLYPHS); a layer's category, and so its tile colour,
comes from its spec (``LayerSpec.category`` in cnn_studio/core/catalogue/). A layer type without a
glyph, a glyph without a layer type, or a category without a colour stops the script with a
message naming them (tests/compiler/test_registry.py checks the written files).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "cnn_studio" / "resources" / "icons"
sys.path.insert(0, str(ROOT))  # the checkout's cnn_studio, installed or not (core: standard library only)

from cnn_studio.core.layers import CATEGORIES, all_specs, get_spec  # noqa: E402

CATEGORY_COLOURS = {
    "Input": "#64748b",
    "Convolution": "#2563eb",
    "Pooling": "#0891b2",
    "Resampling & reshape": "#be123c",
    "Activation": "#16a34a",
    "Normalization & regularization": "#c026d3",
    "Fully connected": "#ea580c",
    "Merge": "#7c3aed",
    "Output / loss": "#4f46e5",
}

STROKE = 'fill="none" stroke="#fff" stroke-linecap="round" stroke-linejoin="round"'
SOLID = 'fill="#fff"'
FAINT = 'fill="#fff" fill-opacity="0.45"'

# glyphs drawn inside the 24x24 tile, in the 4..20 area
GLYPHS: dict[str, str] = {
    "input": (
        f'<rect x="4.5" y="5.5" width="15" height="13" rx="1.5" {STROKE} stroke-width="1.6"/>'
        f'<circle cx="9" cy="9.5" r="1.6" {SOLID}/>'
        f'<path d="M5 17l4.5-4.5 3 3 2.5-2.5 4.5 4.5" {STROKE} stroke-width="1.6"/>'
    ),
    "conv2d": (
        f'<rect x="4" y="4" width="16" height="16" rx="1" {STROKE} stroke-width="1.6" stroke-opacity="0.55"/>'
        f'<path d="M9.33 4v16M14.67 4v16M4 9.33h16M4 14.67h16" {STROKE} stroke-width="1" stroke-opacity="0.55"/>'
        f'<rect x="4" y="4" width="10.67" height="10.67" rx="1" {STROKE} stroke-width="2"/>'
    ),
    "maxpool2d": (
        f'<rect x="3.5" y="6.5" width="4.5" height="4.5" {FAINT}/><rect x="8.5" y="6.5" width="4.5" height="4.5" {SOLID}/>'
        f'<rect x="3.5" y="11.5" width="4.5" height="4.5" {FAINT}/><rect x="8.5" y="11.5" width="4.5" height="4.5" {FAINT}/>'
        f'<path d="M14.5 11.25h2.5" {STROKE} stroke-width="1.6"/><rect x="17.5" y="9" width="4" height="4.5" {SOLID}/>'
    ),
    "avgpool2d": (
        f'<rect x="3.5" y="6.5" width="4.5" height="4.5" {FAINT}/><rect x="8.5" y="6.5" width="4.5" height="4.5" {FAINT}/>'
        f'<rect x="3.5" y="11.5" width="4.5" height="4.5" {FAINT}/><rect x="8.5" y="11.5" width="4.5" height="4.5" {FAINT}/>'
        f'<path d="M14.5 11.25h2.5" {STROKE} stroke-width="1.6"/><rect x="17.5" y="9" width="4" height="4.5" {FAINT}/>'
        f'<rect x="17.5" y="9" width="4" height="4.5" {STROKE} stroke-width="1"/>'
    ),
    "adaptive_avgpool2d": (
        f'<rect x="4" y="4" width="16" height="16" rx="1.5" {STROKE} stroke-width="1.6" stroke-opacity="0.6"/>'
        f'<path d="M7 7l3 3M17 7l-3 3M7 17l3-3M17 17l-3-3" {STROKE} stroke-width="1.6"/>'
        f'<rect x="10.5" y="10.5" width="3" height="3" {FAINT}/><rect x="10.5" y="10.5" width="3" height="3" {STROKE} stroke-width="1"/>'
    ),
    "adaptive_maxpool2d": (
        f'<rect x="4" y="4" width="16" height="16" rx="1.5" {STROKE} stroke-width="1.6" stroke-opacity="0.6"/>'
        f'<path d="M7 7l3 3M17 7l-3 3M7 17l3-3M17 17l-3-3" {STROKE} stroke-width="1.6"/>'
        f'<rect x="10.25" y="10.25" width="3.5" height="3.5" {SOLID}/>'
    ),
    "relu": f'<path d="M4 12h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 16h8l8-10" {STROKE} stroke-width="2"/>',
    "leaky_relu": f'<path d="M4 12h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 17.5l8-1.5 8-10" {STROKE} stroke-width="2"/>',
    "tanh": f'<path d="M4 12h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 18c5 0 5.5-1 8-6s3-6 8-6" {STROKE} stroke-width="2"/>',
    "sigmoid": f'<path d="M4 18h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 17.5c5 0 5.5-.5 8-5.5s3-6.5 8-6.5" {STROKE} stroke-width="2"/>',
    "gelu": f'<path d="M4 14h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 14c3 0 5 1.8 7 .6S15 10 20 5" {STROKE} stroke-width="2"/>',
    "elu": f'<path d="M4 12h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 17.5c4 0 6-1 8-5.5L20 4" {STROKE} stroke-width="2"/>',
    "silu": f'<path d="M4 13h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 13c3 0 4.5 2.5 6.5 1.5S14 10 20 5" {STROKE} stroke-width="2"/>',
    "softmax": (
        f'<rect x="5" y="13" width="3.2" height="6" rx="0.6" {FAINT}/><rect x="10.4" y="9" width="3.2" height="10" rx="0.6" {FAINT}/>'
        f'<rect x="15.8" y="5" width="3.2" height="14" rx="0.6" {SOLID}/>'
    ),
    "batchnorm2d": (
        f'<path d="M4 19h16" {STROKE} stroke-width="0.8" stroke-opacity="0.6"/>'
        f'<path d="M4 18.5c3.5 0 4.5-12 8-12s4.5 12 8 12" {STROKE} stroke-width="2"/><path d="M12 6.5V19" {STROKE} stroke-width="1" stroke-dasharray="1.5 1.5"/>'
    ),
    "batchnorm1d": (
        f'<path d="M4 16h16" {STROKE} stroke-width="0.8" stroke-opacity="0.6"/>'
        f'<path d="M4 15.5c3.5 0 4.5-10 8-10s4.5 10 8 10" {STROKE} stroke-width="2"/>'
        f'<path d="M6 19.5h12" {STROKE} stroke-width="1.6" stroke-dasharray="2 1.5"/>'
    ),
    "dropout": (
        "".join(
            f'<circle cx="{x}" cy="{y}" r="1.9" {SOLID}/>' if (i + j) % 3 else f'<circle cx="{x}" cy="{y}" r="1.5" {STROKE} stroke-width="1.1"/>'
            for i, x in enumerate((7, 12, 17))
            for j, y in enumerate((7, 12, 17))
        )
    ),
    "dropout2d": (
        f'<rect x="9" y="4" width="10" height="10" rx="1" {FAINT}/>'
        f'<rect x="7" y="7" width="10" height="10" rx="1" {STROKE} stroke-width="1.6" stroke-dasharray="2 1.6"/>'
        f'<rect x="5" y="10" width="10" height="10" rx="1" {SOLID}/>'
    ),
    "flatten": (
        f'<rect x="3.5" y="7.5" width="8" height="8" {STROKE} stroke-width="1.3"/><path d="M3.5 11.5h8M7.5 7.5v8" {STROKE} stroke-width="1"/>'
        f'<path d="M12.5 11.5h2.5" {STROKE} stroke-width="1.6"/><rect x="16.5" y="3.5" width="3.5" height="16" {STROKE} stroke-width="1.3"/>'
        f'<path d="M16.5 7.5h3.5M16.5 11.5h3.5M16.5 15.5h3.5" {STROKE} stroke-width="1"/>'
    ),
    "linear": (
        f'<path d="M6 6L18 9M6 6l12 6M6 6l12 9M6 12l12-3M6 12h12M6 12l12 3M6 18l12-9M6 18l12-6M6 18l12-3" {STROKE} stroke-width="0.8" stroke-opacity="0.7"/>'
        f'<circle cx="6" cy="6" r="1.9" {SOLID}/><circle cx="6" cy="12" r="1.9" {SOLID}/><circle cx="6" cy="18" r="1.9" {SOLID}/>'
        f'<circle cx="18" cy="9" r="1.9" {SOLID}/><circle cx="18" cy="12" r="1.9" {SOLID}/><circle cx="18" cy="15" r="1.9" {SOLID}/>'
    ),
    "add": f'<circle cx="12" cy="12" r="7.5" {STROKE} stroke-width="1.6"/><path d="M12 8v8M8 12h8" {STROKE} stroke-width="2"/>',
    "concat": (
        f'<rect x="4" y="4" width="5" height="7" rx="0.8" {FAINT}/><rect x="15" y="4" width="5" height="7" rx="0.8" {SOLID}/>'
        f'<path d="M6.5 11.5v1.5l3 2M17.5 11.5v1.5l-3 2" {STROKE} stroke-width="1.2"/>'
        f'<rect x="7" y="15.5" width="5" height="4.5" rx="0.6" {FAINT}/><rect x="12" y="15.5" width="5" height="4.5" rx="0.6" {SOLID}/>'
    ),
    "cross_entropy": (
        f'<circle cx="12" cy="12" r="7.5" {STROKE} stroke-width="1.6"/><circle cx="12" cy="12" r="4" {STROKE} stroke-width="1.6"/><circle cx="12" cy="12" r="1.5" {SOLID}/>'
    ),
    "mse": (
        f'<path d="M4 19h16" {STROKE} stroke-width="0.8" stroke-opacity="0.6"/>'
        f'<path d="M5 5c2 9 4.5 12 7 12s5-3 7-12" {STROKE} stroke-width="2"/><circle cx="12" cy="17" r="1.5" {SOLID}/>'
    ),
    # issue 13's layers
    "conv_transpose2d": (  # a small map stamped out onto a larger one
        f'<rect x="4" y="4" width="16" height="16" rx="1" {STROKE} stroke-width="1.2" stroke-dasharray="2 2"/>'
        f'<rect x="9" y="9" width="6" height="6" rx="0.8" {SOLID}/>'
        f'<path d="M8.5 8.5L5.5 5.5M15.5 8.5l3-3M8.5 15.5l-3 3M15.5 15.5l3 3" {STROKE} stroke-width="1.6"/>'
    ),
    "separable_conv2d": (  # one filter per channel, then a 1x1 mix
        f'<rect x="3.5" y="5" width="3.5" height="14" rx="0.8" {FAINT}/><rect x="8" y="5" width="3.5" height="14" rx="0.8" {FAINT}/>'
        f'<path d="M3.5 10h8M3.5 14h8" {STROKE} stroke-width="1"/>'
        f'<path d="M13 12h2.5" {STROKE} stroke-width="1.6"/><circle cx="18.5" cy="8" r="1.6" {SOLID}/><circle cx="18.5" cy="12" r="1.6" {SOLID}/><circle cx="18.5" cy="16" r="1.6" {SOLID}/>'
    ),
    "mean_hw": (  # a map averaged to one value per channel
        f'<rect x="4" y="4" width="11" height="11" rx="1" {STROKE} stroke-width="1.4" stroke-opacity="0.6"/>'
        f'<path d="M6.5 9.5h6" {STROKE} stroke-width="2"/><path d="M15.5 15.5l2 2" {STROKE} stroke-width="1.6"/>'
        f'<rect x="17" y="17" width="3.5" height="3.5" rx="0.6" {SOLID}/>'
    ),
    "upsample": (  # a small tile grown into a larger one
        f'<rect x="4" y="13" width="7" height="7" rx="0.8" {FAINT}/>'
        f'<rect x="8" y="4" width="12" height="12" rx="1" {STROKE} stroke-width="1.6"/>'
        f'<path d="M9 15l5.5-5.5M11 9.5h3.5V13" {STROKE} stroke-width="1.6"/>'
    ),
    "zeropad2d": (  # a map with a ring of zeros
        f'<rect x="4" y="4" width="16" height="16" rx="1" {STROKE} stroke-width="1.3" stroke-dasharray="1.8 1.8"/>'
        f'<rect x="8" y="8" width="8" height="8" rx="0.8" {SOLID}/>'
    ),
    "reshape": (  # the same values, laid out differently
        f'<rect x="4" y="4" width="5" height="16" rx="0.8" {STROKE} stroke-width="1.6"/>'
        f'<path d="M11 12h2.5" {STROKE} stroke-width="1.6"/>'
        f'<rect x="15" y="6" width="5" height="5" rx="0.6" {SOLID}/><rect x="15" y="13" width="5" height="5" rx="0.6" {FAINT}/>'
    ),
    "identity": f'<path d="M4 12h15M15 8l4 4-4 4" {STROKE} stroke-width="2"/>',
    "relu6": f'<path d="M4 12h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 16h8l5-9h3" {STROKE} stroke-width="2"/>',
    "hardswish": f'<path d="M4 14h16M12 4v16" {STROKE} stroke-width="0.8" stroke-opacity="0.5"/><path d="M4 14h4l3 1.2 2.5-1.6L20 5" {STROKE} stroke-width="2"/>',
    "groupnorm": (  # channels normalised in groups
        f'<rect x="4" y="6" width="2.5" height="12" rx="0.6" {SOLID}/><rect x="7.5" y="6" width="2.5" height="12" rx="0.6" {SOLID}/>'
        f'<rect x="14" y="6" width="2.5" height="12" rx="0.6" {FAINT}/><rect x="17.5" y="6" width="2.5" height="12" rx="0.6" {FAINT}/>'
        f'<path d="M12 4v16" {STROKE} stroke-width="1" stroke-dasharray="1.5 1.5"/>'
    ),
    "layernorm": (  # everything of one image at once
        f'<rect x="4" y="6" width="16" height="12" rx="1.2" {STROKE} stroke-width="1.6"/>'
        f'<path d="M6 12c2.5 0 3-4 6-4s3.5 4 6 4" {STROKE} stroke-width="1.6"/>'
    ),
    "instancenorm2d": (  # one map of one image
        f'<rect x="4" y="4" width="10" height="10" rx="1" {FAINT}/><rect x="10" y="10" width="10" height="10" rx="1" {STROKE} stroke-width="1.6"/>'
        f'<path d="M11.5 17c1.5 0 2-3 3.5-3s2 3 3.5 3" {STROKE} stroke-width="1.4"/>'
    ),
    "multiply": f'<circle cx="12" cy="12" r="7.5" {STROKE} stroke-width="1.6"/><path d="M9.2 9.2l5.6 5.6M14.8 9.2l-5.6 5.6" {STROKE} stroke-width="2"/>',
}

CATEGORY_GLYPH = {
    "Input": "input",
    "Convolution": "conv2d",
    "Pooling": "maxpool2d",
    "Resampling & reshape": "upsample",
    "Activation": "relu",
    "Normalization & regularization": "batchnorm2d",
    "Fully connected": "linear",
    "Merge": "add",
    "Output / loss": "cross_entropy",
}


def tile(colour: str, glyph: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
        f'<rect x="0.5" y="0.5" width="23" height="23" rx="5" fill="{colour}"/>'
        f"{glyph}</svg>\n"
    )


def slug(category: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in category.lower()).strip("_").replace("__", "_").replace("__", "_")


APP_ICON = """<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#2563eb"/><stop offset="1" stop-color="#7c3aed"/></linearGradient></defs>
<rect x="2" y="2" width="60" height="60" rx="14" fill="url(#bg)"/>
<rect x="10" y="14" width="20" height="20" rx="2.5" fill="#fff" fill-opacity="0.35"/>
<rect x="14" y="18" width="20" height="20" rx="2.5" fill="#fff" fill-opacity="0.6"/>
<rect x="18" y="22" width="20" height="20" rx="2.5" fill="#fff"/>
<path d="M18 28.7h20M18 35.3h20M24.7 22v20M31.3 22v20" stroke="#2563eb" stroke-opacity="0.35" stroke-width="1.2"/>
<rect x="18" y="22" width="13.3" height="13.3" rx="2" fill="none" stroke="#2563eb" stroke-width="2.4"/>
<path d="M40 32l8-8M40 32l8 0M40 32l8 8" stroke="#fff" stroke-width="1.6" stroke-opacity="0.8"/>
<circle cx="48.5" cy="24" r="3.2" fill="#fff"/><circle cx="48.5" cy="32" r="3.2" fill="#fff"/><circle cx="48.5" cy="40" r="3.2" fill="#fff"/>
</svg>
"""


def problems() -> list[str]:
    """What keeps the icon set from matching the catalogue, one line each."""
    types = [spec.type_id for spec in all_specs()]
    out = []
    missing = [t for t in types if t not in GLYPHS]
    if missing:
        out.append(f"no glyph for layer type(s) {', '.join(missing)}: add them to GLYPHS")
    extra = [t for t in GLYPHS if t not in types]
    if extra:
        out.append(f"glyph(s) for unknown layer type(s) {', '.join(extra)}: remove them or register the spec")
    uncoloured = [c for c in CATEGORIES if c not in CATEGORY_COLOURS]
    if uncoloured:
        out.append(f"no colour for categor(ies) {', '.join(uncoloured)}: add them to CATEGORY_COLOURS")
    unglyphed = [c for c in CATEGORIES if c not in CATEGORY_GLYPH]
    if unglyphed:
        out.append(f"no category icon for {', '.join(unglyphed)}: add them to CATEGORY_GLYPH")
    return out


def layer_svg(type_id: str) -> str:
    """The icon of a layer type: its glyph on a tile in its spec's category colour."""
    return tile(CATEGORY_COLOURS[get_spec(type_id).category], GLYPHS[type_id])


def main() -> None:
    errors = problems()
    if errors:
        raise SystemExit("make_icons: " + "; ".join(errors))
    OUT.mkdir(parents=True, exist_ok=True)
    for spec in all_specs():
        (OUT / f"{spec.type_id}.svg").write_text(layer_svg(spec.type_id))
    for category in CATEGORIES:
        (OUT / f"category_{slug(category)}.svg").write_text(tile(CATEGORY_COLOURS[category], GLYPHS[CATEGORY_GLYPH[category]]))
    (OUT / "cnn-studio.svg").write_text(APP_ICON)
    colours = {c: CATEGORY_COLOURS[c] for c in CATEGORIES}
    (OUT / "categories.json").write_text(json.dumps({"colours": colours, "files": {c: f"category_{slug(c)}.svg" for c in CATEGORIES}}, indent=2) + "\n")
    print(f"wrote {len(all_specs()) + len(CATEGORIES) + 1} icons to {OUT}")


if __name__ == "__main__":
    main()
