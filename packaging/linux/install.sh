#!/usr/bin/env sh
# Register CNN Studio with the desktop for the current user (or system-wide with PREFIX=/usr/local
# run as root): menu entry, icon, and the *.cnnstudio file type opening in CNN Studio.
# Needs the `cnn-studio` command on PATH (pip install .). Undo with: install.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -n "${PREFIX:-}" ]; then share=$PREFIX/share; else share=${XDG_DATA_HOME:-$HOME/.local/share}; fi
icon_src="$root/cnn_studio/resources/icons/cnn-studio.svg"
if [ ! -f "$icon_src" ]; then
  icon_src=$(python3 -c 'import cnn_studio, os; print(os.path.join(os.path.dirname(cnn_studio.__file__), "resources", "icons", "cnn-studio.svg"))')
fi
apps="$share/applications"; mime="$share/mime/packages"; icons="$share/icons/hicolor/scalable"
action=installed
if [ "${1:-}" = "--uninstall" ]; then
  action=removed
  rm -f "$apps/cnn-studio.desktop" "$mime/cnn-studio-mime.xml" "$icons/apps/cnn-studio.svg" "$icons/mimetypes/application-x-cnnstudio.svg"
else
  mkdir -p "$apps" "$mime" "$icons/apps" "$icons/mimetypes"
  cp "$here/cnn-studio.desktop" "$apps/"
  cp "$here/cnn-studio-mime.xml" "$mime/"
  cp "$icon_src" "$icons/apps/cnn-studio.svg"
  cp "$icon_src" "$icons/mimetypes/application-x-cnnstudio.svg"
fi
command -v update-mime-database >/dev/null && update-mime-database "$share/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
echo "CNN Studio desktop integration $action under $share"
