"""Batch estimation: CSV streamed in chunks, files by path (CSV or Parquet), partitions on a Dask cluster."""
