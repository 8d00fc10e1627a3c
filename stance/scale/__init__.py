"""Scale-out on Dask: `--scheduler tcp://HOST:PORT` or `--workers N`.

`cluster.py` connects (or starts a LocalCluster), `label.py` labels inputs in
blocks on the workers, `dedup.py` finds duplicates with MinHash bands grouped
by a Dask shuffle, `report.py` aggregates a labelled Parquet dataset with
dask.dataframe. Nothing here is imported unless one of those options (or a
dataset report) is used: dask never loads for `--help` or a plain run.
"""
