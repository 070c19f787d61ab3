"""The async engine: sessions over snapshots and change sets, the zarr store, repositories."""
