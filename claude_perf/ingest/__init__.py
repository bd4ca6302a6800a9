"""Input edge: saved logs and session bundles into the tables the analysis reads.

- ``files``: log files (`docker logs -t`, json-file, plain; gzip or not) into ``LogLines``;
- ``engine_times``: the byte-level reader of `docker logs -t` times behind ``files``;
- ``prefixed``: inputs split per source before ``files`` reads them (kubectl --prefix, docker
  compose / service logs), and ``log_stream``: Portkey's saved ``/log/stream`` feed as lines;
- ``bundle``: session folders (manifest, logs, samples, facts) written and read;
- ``session``: ``Session``, what every input becomes, and the samples schema;
- ``stats_files``, ``health_files``: ``report --stats`` / ``--health`` hand captures as samples
  and container facts (``inspect_facts``: docker inspect → facts, shared with ``collect``).
"""
