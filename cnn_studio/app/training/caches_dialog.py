"""Network > Speed caches…: what the speed probe's cache and the compile cache hold, and a way to clear them.

The app's face of ``cnn-studio cache [--clear]`` (``training.speed.cache_report`` / ``clear_caches``):
the speed cache keeps each network's chosen training mode (so its next run skips the probe) and
which networks were compiled; the compile cache keeps torch.compile's kernels (so a network compiled
once compiles again in seconds). Clearing makes the next run probe and compile afresh, which is
what a user wants after changing hardware, drivers or torch. It is refused while a run goes: a run
may be compiling into the cache folder at that moment.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from ..fmt import mem


class SpeedCachesDialog(QDialog):
    """Shows both caches (paths, entries, size) with Clear caches and Close buttons.

    ``is_running``: a callable, true while a training run goes (Clear is then disabled, and says why)."""

    def __init__(self, parent=None, is_running=lambda: False):
        super().__init__(parent)
        self.setWindowTitle("Speed caches")
        self.setObjectName("SpeedCachesDialog")
        self._is_running = is_running
        self.removed: list[str] = []
        intro = QLabel(
            "Each network's fastest training mode, found by the speed probe, is kept so that its next run "
            "skips the probe; torch.compile's kernels are kept so that a network compiled once compiles "
            "again in seconds. Clear both after changing hardware, drivers or torch: the next run probes "
            "and compiles afresh."
        )
        intro.setWordWrap(True)
        self.speed_label = self._value()
        self.entries_label = self._value()
        self.compile_label = self._value()
        self.compile_size_label = self._value()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("SpeedCachesNote")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Speed cache:", self.speed_label)
        form.addRow("Holds:", self.entries_label)
        form.addRow("Compile cache:", self.compile_label)
        form.addRow("Size:", self.compile_size_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.clear_button = QPushButton("Clear caches")
        self.clear_button.setObjectName("ClearSpeedCaches")
        self.buttons.addButton(self.clear_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.clear_button.clicked.connect(self.clear)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(520)
        self.refresh()

    @staticmethod
    def _value() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    @Slot()
    def on_run_state_changed(self, *_args) -> None:
        """A run started, ended or failed: Clear follows (only while the dialog is shown)."""
        if self.isVisible():
            self.refresh()

    def refresh(self, message: str = "") -> None:
        """Read both caches again and show what they hold (and ``message``, if any)."""
        from ...training import speed  # imports torch: show_caches loads it first, under a wait cursor

        r = speed.cache_report()
        self.report = r
        self.speed_label.setText(r["speed_cache"])
        held = f"{r['entries']} network(s) with a chosen mode, {r['compile_records']} compile record(s)"
        if r["speed_cache_problem"]:
            held += f"\n{r['speed_cache_problem']}: it is ignored and rewritten by the next run"
        self.entries_label.setText(held)
        whose = "the studio's" if r["compile_cache_is_studios"] else "set by TORCHINDUCTOR_CACHE_DIR"
        self.compile_label.setText(f"{r['compile_cache']} ({whose})")
        self.compile_size_label.setText(mem(r["compile_cache_bytes"]) if r["compile_cache_exists"] else "empty")
        running = bool(self._is_running())
        self.clear_button.setEnabled(not running)
        notes = [message] if message else []
        if running:
            notes.append("Clearing waits for the run to end: it may be compiling into the cache now.")
        if not r["compile_cache_is_studios"]:
            notes.append("The compile cache is the folder TORCHINDUCTOR_CACHE_DIR names: Clear leaves it alone.")
        self.note.setText("\n".join(notes))
        self.note.setVisible(bool(notes))

    def clear(self) -> None:
        from ...training import speed

        if self._is_running():  # the button is disabled then; a run may have started since it was shown
            self.refresh()
            return
        try:
            self.removed = speed.clear_caches()
        except OSError as e:
            QMessageBox.warning(
                self, "Speed caches",
                f"Could not remove {e.filename or 'a cache file'}: {e.strerror or e}.\n\n"
                "Close other CNN Studio windows and command-line runs, then try again.",
            )
            self.refresh()
            return
        self.refresh("Cleared: the next run of each network probes and compiles afresh (kernels this window "
                     "has already loaded stay in its memory until it is restarted)." if self.removed
                     else "Nothing to clear: both caches were empty.")
