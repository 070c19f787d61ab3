"""flatc output for the spec v1 schemas; regenerate with scripts/regen_flatbuffers.sh."""
