"""``earlybias sweep``: a chapter over a grid of parameters and seeds, on Dask.

Every point of a sweep is one ordinary run (``earlybias run``: the same notebook, run directory
and ``results.json``), executed as a task of a ``dask.distributed`` cluster: a local cluster of
worker processes by default, or an existing cluster given by its scheduler's address.

- ``grid``: the command line's grid, seeds and fixed values, turned into validated points
  (:func:`plan_sweep`) before anything starts;
- ``cluster``: the cluster (:func:`connect`), the task that runs one point in its own process
  (:func:`run_point`), the sweep itself (:func:`run_sweep`, resumable) and the training of a
  large zoo's chunks as tasks (:func:`train_zoos`);
- ``table``: the sweep directory's table, figures and summary, rebuilt from the run directories
  alone (:func:`collect`).

A sweep directory holds ``sweep.yaml`` (what was asked), ``points/<point>/`` (one run directory
per point), ``table.parquet`` and ``table.csv``, ``figures/*.png`` and ``summary.md``.
"""

from earlybias.sweep.grid import Point, SweepPlan, plan_sweep

__all__ = ["Point", "SweepPlan", "plan_sweep"]
