"""The job layer: what a job asks for and how one job runs.

* :mod:`~bridge.job.operations`: every operation, declared once;
* :mod:`~bridge.job.options`: every command-line option, declared once;
* :mod:`~bridge.job.files`: a job file's operands and settings; :mod:`~bridge.job.compute`: the
  library call; :mod:`~bridge.job.stream`: jobs larger than memory;
* :mod:`~bridge.job.runner`: :class:`~bridge.job.runner.Request` and
  :func:`~bridge.job.runner.run`;
* :mod:`~bridge.job.outcome`: exit statuses and error lines; :mod:`~bridge.job.process`: signal
  masks and the heap of bridge's own processes.

The front doors (:mod:`bridge.cli`, :mod:`bridge.fastpath`, :mod:`bridge.serve`,
:mod:`bridge.batch`) build requests and call this layer; it imports only the layers below
(formats, the library, the kernels, errors). Its modules import numpy only where a job runs.
"""
