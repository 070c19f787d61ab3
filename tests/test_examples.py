"""The README's demo runs and shows what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import icechunk

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_demo(tmp_path: Path) -> None:
    repo_path = tmp_path / "demo-repo"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(repo_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "temperature[0] mean on main: 0.00" in out
    assert "arrays on experiment: ['humidity', 'temperature', 'time']" in out
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(repo_path)))
    assert repo.list_branches() == {"main", "experiment"}
    assert repo.list_tags() == {"v1.0"}
    messages = [h.message for h in repo.ancestry(branch="experiment")]
    assert messages == [
        "Add humidity",
        "Zero the first time step",
        "Initial data",
        "Repository initialized",
    ]


def test_climate_workflow_demo(tmp_path: Path) -> None:
    """`bash scripts/demo.sh` runs examples/climate_workflow.py; it must do what it prints."""
    assert "examples/climate_workflow.py" in (ROOT / "scripts" / "demo.sh").read_text()
    repo_path = tmp_path / "demo-repo"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "climate_workflow.py"), str(repo_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "appended February, now 60 days" in out
    assert "new arrays: ['/tas_anomaly']" in out
    assert "uncommitted changes: {'/tas': [[1, 0, 0]]}" in out
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(repo_path)))
    assert repo.list_branches() == {"main", "experiment"}
    assert repo.list_tags() == {"v1.0"}
    assert [h.message for h in repo.ancestry(branch="experiment")] == [
        "Scale precipitation by 1.1, add a temperature anomaly",
        "Correct a warm bias on 2020-01-11..20",
        "February 2020",
        "January 2020",
        "Repository initialized",
    ]
    import xarray as xr

    v1 = xr.open_zarr(repo.readonly_session(tag="v1.0").store, consolidated=False)
    first = repo.lookup_snapshot(list(repo.ancestry(tag="v1.0"))[2].id)
    old = xr.open_zarr(repo.readonly_session(snapshot_id=first.id).store, consolidated=False)
    assert v1.sizes["time"] == 60 and old.sizes["time"] == 31
    assert str(v1.time.values[0])[:10] == "2020-01-01" and v1.tas.attrs["units"] == "K"
    diff = (old.tas.isel(time=slice(10, 20)) - v1.tas.isel(time=slice(10, 20))).values
    assert abs(float(diff.mean()) - 0.8) < 1e-4
