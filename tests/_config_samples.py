"""Repository configurations built through the public API, shared by our tests and by the
upstream-Icechunk subprocess that writes the matching ``config.yaml`` files.

``build_samples(ic)`` takes a namespace with upstream's public names (``RepositoryConfig``,
``s3_store``, ``azure_store``, ...) so the same code runs against upstream 1.1 and against this
package. Keep it to the API the two share.
"""

from __future__ import annotations

from typing import Any


def build_samples(ic: Any) -> dict[str, Any]:
    """Name -> RepositoryConfig, covering every field and every variant."""
    samples: dict[str, Any] = {}

    samples["default"] = ic.RepositoryConfig.default()
    samples["threshold_only"] = ic.RepositoryConfig(inline_chunk_threshold_bytes=10)

    cleared = ic.RepositoryConfig()
    cleared.clear_virtual_chunk_containers()
    samples["cleared_vccs"] = cleared

    samples["empty_sections"] = ic.RepositoryConfig(
        compression=ic.CompressionConfig(),
        caching=ic.CachingConfig(),
        storage=ic.StorageSettings(
            concurrency=ic.StorageConcurrencySettings(), retries=ic.StorageRetriesSettings()
        ),
        manifest=ic.ManifestConfig(
            preload=ic.ManifestPreloadConfig(), splitting=ic.ManifestSplittingConfig(())
        ),
    )

    pc = ic.ManifestPreloadCondition
    sc = ic.ManifestSplitCondition
    dc = ic.ManifestSplitDimCondition
    full = ic.RepositoryConfig(
        inline_chunk_threshold_bytes=100,
        get_partial_values_concurrency=7,
        compression=ic.CompressionConfig(algorithm=ic.CompressionAlgorithm.Zstd, level=5),
        max_concurrent_requests=33,
        caching=ic.CachingConfig(
            num_snapshot_nodes=1,
            num_chunk_refs=2,
            num_transaction_changes=3,
            num_bytes_attributes=4,
            num_bytes_chunks=5,
        ),
        storage=ic.StorageSettings(
            concurrency=ic.StorageConcurrencySettings(
                max_concurrent_requests_for_object=4, ideal_concurrent_request_size=1000
            ),
            retries=ic.StorageRetriesSettings(
                max_tries=3, initial_backoff_ms=10, max_backoff_ms=100
            ),
            unsafe_use_conditional_create=False,
            unsafe_use_conditional_update=True,
            unsafe_use_metadata=False,
            storage_class="STANDARD",
            metadata_storage_class="STANDARD_IA",
            chunks_storage_class="GLACIER",
            minimum_size_for_multipart_upload=1234,
        ),
        manifest=ic.ManifestConfig(
            preload=ic.ManifestPreloadConfig(
                max_total_refs=99,
                preload_if=(pc.path_matches("^/a") & pc.name_matches("x.*"))
                | pc.num_refs(1, 10)
                | pc.num_refs(None, 10)
                | pc.num_refs(5, None)
                | pc.true()
                | pc.false()
                | pc.or_conditions([pc.true()])
                | pc.and_conditions([pc.false(), pc.name_matches("^time$")]),
            ),
            splitting=ic.ManifestSplittingConfig.from_dict(
                {
                    sc.AnyArray(): {dc.Any(): 3},
                    sc.path_matches("t.*") | (sc.name_matches("q") & sc.AnyArray()): {
                        dc.Axis(1): 4,
                        dc.DimensionName("time"): 5,
                        dc.DimensionName("12"): 6,
                    },
                    sc.or_conditions([sc.name_matches("a")]): {dc.Axis(0): 1},
                    sc.and_conditions([sc.path_matches("b")]): {dc.Axis(2): 4_000_000_000},
                }
            ),
        ),
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer(
            "s3://bucket/p/",
            ic.s3_store(
                region="us-east-1",
                endpoint_url="http://localhost:9000",
                allow_http=True,
                anonymous=True,
                force_path_style=True,
                network_stream_timeout_seconds=30,
                requester_pays=True,
            ),
        )
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer("s3://compat/", ic.s3_store(s3_compatible=True))
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer("s3://plain-options/", ic.ObjectStoreConfig.S3(ic.S3Options()))
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer("gcs://gb/", ic.gcs_store({"service_account": "x"}))
    )
    full.set_virtual_chunk_container(ic.VirtualChunkContainer("gs://gb2/", ic.gcs_store()))
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer("https://example.com/data/", ic.http_store({"timeout": "3s"}))
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer("http://example.org/", ic.http_store())
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer(
            "file:///tmp/some dir/", ic.local_filesystem_store("/tmp/some dir")
        )
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer(
            "az://acct/", ic.azure_store(account="acct", config={"use_emulator": "true"})
        )
    )
    full.set_virtual_chunk_container(
        ic.VirtualChunkContainer(
            "tigris://t/", ic.ObjectStoreConfig.Tigris(ic.S3Options(region="auto"))
        )
    )
    named = ic.VirtualChunkContainer("s3://named/", ic.s3_store(region="eu-west-1"))
    named.name = "my-container"  # upstream 1.1 drops the name when storing the container
    full.set_virtual_chunk_container(named)
    samples["full"] = full

    return samples
