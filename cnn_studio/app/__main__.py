"""``python -m cnn_studio.app [PROJECT]``: open the desktop app (same as ``cnn-studio``)."""
import sys

from .main import run_app

sys.exit(run_app(sys.argv[1] if len(sys.argv) > 1 else None))
