"""Collection from a live Docker Engine into the store (`claude-perf collect`).

Rooms, in the order a collect uses them:
- ``engine``: connect (a host URL, a docker context or DOCKER_HOST), the API version check,
  engine errors; ``engines``: which engines (``--host``, ``--context``) and their identity;
- ``targets``: which containers (``--container``, ``--label``, ``--compose-project``, pattern);
  ``services``: a Swarm service's task containers (``--service``);
- ``facts``: ``docker inspect`` facts and engine events of a container;
- ``logstream``: the logs request, one interface (``open_log_stream`` -> ``LogBody``) over
  the collector's own HTTP/1.0 request and docker-py's transport;
- ``frames``: the multiplexed body as (ts_ns, stream, text) rows;
- ``logs``: a container's logs into the store in batches, from the stored cursor on;
- ``stats`` and ``sampling``: the per-frame ``docker stats`` formulas, and sampling each interval;
- ``run``: ``collect()`` with ``CollectRequest`` in and ``CollectOutcome`` out (one engine);
- ``fleet``: several engines at once, one thread each, a lost engine named in ``missing``.

Exports ``collect``, ``CollectRequest``, ``CollectOutcome``, ``ContainerOutcome``.
"""

from claude_perf.collect.dispatch import collect
from claude_perf.collect.run import CollectOutcome, CollectRequest, ContainerOutcome

__all__ = ["CollectOutcome", "CollectRequest", "ContainerOutcome", "collect"]
