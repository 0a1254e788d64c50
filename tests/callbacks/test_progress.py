"""The attack-stage progress bar: shown like Lightning's, silent when disabled."""

from lightning_snnpriv.callbacks.progress import progress


def test_progress_bar_names_the_item_only_when_enabled(capsys):
    assert list(progress(["loss", "shokri"], enabled=True, desc="attacking", label=str)) == [
        "loss",
        "shokri",
    ]
    shown = capsys.readouterr().err
    assert "attacking" in shown
    assert "shokri" in shown
    list(progress(["loss"], enabled=False, desc="attacking", label=str))
    assert capsys.readouterr().err == ""
