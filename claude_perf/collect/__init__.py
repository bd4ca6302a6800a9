"""Collection from a live Docker Engine into the store (`claude-perf collect`).

Rooms, in the order a collect uses them:
- ``engine``: connect (DOCKER_HOST or a docker context), the API version check, engine errors;
- ``targets``: which containers (``--container``, ``--label``, ``--compose-project``, pattern);
- ``facts``: ``docker inspect`` facts and engine events of a container;
- ``logstream``: the logs request, one interface (``open_log_stream`` -> ``LogBody``) over
  the collector's own HTTP/1.0 request and docker-py's transport;
- ``frames``: the multiplexed body as (ts_ns, stream, text) rows;
- ``logs``: a container's logs into the store in batches, from the stored cursor on;
- ``stats`` and ``sampling``: the per-frame ``docker stats`` formulas, and sampling each interval;
- ``run``: ``collect()`` with ``CollectRequest`` in and ``CollectOutcome`` out.

Exports ``collect``, ``CollectRequest``, ``CollectOutcome``, ``ContainerOutcome``.
"""

from claude_perf.collect.run import CollectOutcome, CollectRequest, ContainerOutcome, collect

__all__ = ["CollectOutcome", "CollectRequest", "ContainerOutcome", "collect"]
