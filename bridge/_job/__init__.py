"""The job layer: what a job asks for and how one job runs.

* :mod:`~bridge._job.operations`: every operation, declared once;
* :mod:`~bridge._job.options`: every command-line option, declared once;
* :mod:`~bridge._job.files`: a job file's operands and settings; :mod:`~bridge._job.compute`: the
  library call; :mod:`~bridge._job.stream`: jobs larger than memory;
* :mod:`~bridge._job.runner`: :class:`~bridge._job.runner.Request` and
  :func:`~bridge._job.runner.run`;
* :mod:`~bridge._job.outcome`: exit statuses and error lines; :mod:`~bridge._job.process`: signal
  masks and the heap of bridge's own processes.

The front doors (:mod:`bridge._cli`, :mod:`bridge._fastpath`, :mod:`bridge._serve`,
:mod:`bridge._batch`) build requests and call this layer; it imports only the layers below
(formats, the library, the kernels, errors). Its modules import numpy only where a job runs.
"""
