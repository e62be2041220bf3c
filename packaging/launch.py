"""Entry script for the PyInstaller bundle: the same `cnn-studio` command as the pip install."""
import sys

from cnn_studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
