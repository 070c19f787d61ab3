"""A climate workflow with Xarray and Icechunk, on local disk.

Builds a small synthetic daily temperature / precipitation dataset on a (time, lat, lon) grid
with CF attributes, writes January with ``to_icechunk``, appends February along time, repairs
ten days with a region write, tags the result ``v1.0``, tries a bias correction on an
``experiment`` branch, and prints the differences between versions and the history.

Run it with ``bash scripts/demo.sh`` (writes ``./demo-repo``) or
``python examples/climate_workflow.py PATH``. Notebook 2 (``notebooks/02_climate_workflow.ipynb``)
walks through the same steps with plots.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import icechunk
from icechunk.xarray import to_icechunk

LAT = np.arange(-87.5, 90.0, 5.0)  # 36 cell centres
LON = np.arange(0.0, 360.0, 5.0)  # 72 cell centres
CHUNKS = {"time": 10, "lat": 36, "lon": 72}  # ten days of the whole globe per chunk


def make_month(start: str, days: int, seed: int) -> xr.Dataset:
    """Synthetic daily near-surface temperature (K) and precipitation (kg m-2 s-1)."""
    rng = np.random.default_rng(seed)
    time = pd.date_range(start, periods=days, freq="D")
    doy = time.day_of_year.to_numpy()[:, None, None]
    lat = LAT[None, :, None]
    lon = LON[None, None, :]
    # warm tropics, a seasonal cycle of opposite sign in each hemisphere, some weather
    tas = (
        288.0
        - 30.0 * np.sin(np.deg2rad(lat)) ** 2
        - 8.0 * np.sign(lat) * np.cos(2 * np.pi * (doy - 15) / 365.25)
        + 2.0 * np.sin(np.deg2rad(lon))
        + rng.normal(0.0, 1.5, (days, LAT.size, LON.size))
    )
    pr = rng.gamma(0.6, 4e-5, (days, LAT.size, LON.size)) * (1.0 + np.cos(np.deg2rad(lat)))
    ds = xr.Dataset(
        {
            "tas": (
                ("time", "lat", "lon"),
                tas.astype("float32"),
                {
                    "standard_name": "air_temperature",
                    "long_name": "Near-surface air temperature",
                    "units": "K",
                    "cell_methods": "time: mean",
                },
            ),
            "pr": (
                ("time", "lat", "lon"),
                pr.astype("float32"),
                {
                    "standard_name": "precipitation_flux",
                    "long_name": "Precipitation",
                    "units": "kg m-2 s-1",
                    "cell_methods": "time: mean",
                },
            ),
        },
        coords={
            "time": ("time", time, {"standard_name": "time", "axis": "T"}),
            "lat": (
                "lat",
                LAT,
                {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            ),
            "lon": (
                "lon",
                LON,
                {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
            ),
        },
        attrs={
            "Conventions": "CF-1.10",
            "title": "Synthetic daily climate fields",
            "source": "examples/climate_workflow.py (random numbers, not observations)",
        },
    )
    return ds


# Encoding for the first write: a real time axis (days since an epoch) and the chunking above.
ENCODING = {
    "time": {"units": "days since 2000-01-01", "calendar": "proleptic_gregorian"},
    "tas": {"chunks": tuple(CHUNKS.values())},
    "pr": {"chunks": tuple(CHUNKS.values())},
}


def open_version(repo: icechunk.Repository, **ref: str) -> xr.Dataset:
    """Open one version (branch=, tag= or snapshot_id=) of the repository with Xarray."""
    return xr.open_zarr(repo.readonly_session(**ref).store, consolidated=False)


def main(path: Path) -> None:
    storage = icechunk.local_filesystem_storage(str(path))
    if icechunk.Repository.exists(storage):
        shutil.rmtree(path)  # a repository left by an earlier run: start afresh
    elif path.exists() and any(path.iterdir()):
        sys.exit(f"{path} exists and is not an Icechunk repository; choose another folder")
    repo = icechunk.Repository.create(storage)
    print(f"created repository at {path}")

    # 1. January: the first write creates the arrays.
    january = make_month("2020-01-01", 31, seed=1)
    session = repo.writable_session("main")
    to_icechunk(january.chunk(CHUNKS), session, mode="w", encoding=ENCODING)
    first = session.commit("January 2020", metadata={"source": "synthetic"})
    print(f"committed {first}: January 2020, {january.sizes['time']} days")

    # 2. February: append along time.
    february = make_month("2020-02-01", 29, seed=2)
    session = repo.writable_session("main")
    to_icechunk(february, session, append_dim="time")
    second = session.commit("February 2020")
    days = open_version(repo, branch="main").sizes["time"]
    print(f"committed {second}: appended February, now {days} days")

    # 3. Repair: days 10..19 were 0.8 K too warm. Rewrite that region (one whole chunk).
    ds = open_version(repo, branch="main")
    fixed = ds[["tas"]].isel(time=slice(10, 20)).load()
    fixed["tas"] = (fixed.tas - 0.8).assign_attrs(ds.tas.attrs)
    session = repo.writable_session("main")
    to_icechunk(fixed.drop_vars(["lat", "lon"]), session, region={"time": slice(10, 20)})
    print(
        "uncommitted changes:", {k: sorted(v) for k, v in session.status().updated_chunks.items()}
    )
    third = session.commit("Correct a warm bias on 2020-01-11..20")
    print(f"committed {third}: region write of 10 days of tas")

    # 4. A release tag, and an experiment on a branch.
    repo.create_tag("v1.0", snapshot_id=third)
    repo.create_branch("experiment", snapshot_id=third)
    session = repo.writable_session("experiment")
    ds = open_version(repo, branch="experiment").load()
    corrected = ds[["pr"]].copy()
    corrected["pr"] = (ds.pr * 1.1).astype("float32").assign_attrs(ds.pr.attrs)
    corrected["tas_anomaly"] = (
        (ds.tas - ds.tas.mean("time"))
        .astype("float32")
        .assign_attrs(long_name="Near-surface air temperature anomaly", units="K")
    )
    to_icechunk(corrected.drop_vars(["lat", "lon", "time"]), session, mode="a")
    exp = session.commit("Scale precipitation by 1.1, add a temperature anomaly")
    print(f"committed {exp} on branch experiment")

    # 5. What changed between the release and the experiment?
    diff = repo.diff(from_tag="v1.0", to_branch="experiment")
    print("diff v1.0 -> experiment:")
    print("  new arrays:", sorted(diff.new_arrays))
    print("  arrays with new chunks:", sorted(diff.updated_chunks))

    # 6. Time travel: the same numbers at each version.
    versions = {
        "January 2020 (first commit)": open_version(repo, snapshot_id=first),
        "v1.0": open_version(repo, tag="v1.0"),
        "experiment": open_version(repo, branch="experiment"),
    }
    for name, v in versions.items():
        days = v.sizes["time"]
        tas = float(v.tas.isel(time=slice(10, 20)).mean())
        pr = float(v.pr.mean()) * 86400
        print(f"{name:>28}: {days} days, mean tas 11-20 Jan {tas:.2f} K, mean pr {pr:.2f} mm/day")

    print("branches:", sorted(repo.list_branches()), "tags:", sorted(repo.list_tags()))
    for branch in ("main", "experiment"):
        print(f"history of {branch}:")
        for info in repo.ancestry(branch=branch):
            print(f"  {info.id}  {info.written_at:%Y-%m-%d %H:%M:%S}  {info.message}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-repo"))
