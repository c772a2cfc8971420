"""The write-back's decisions: one pure planner per action (``deploy``, ``promote``,
``rollback``, ``hold``, ``unhold``, ``record``, ``reject``, ``unreject``), each ``plan(state,
request) -> Plan``, reading the branch only through the ``Repository`` protocol (``model``);
``registry`` picks the planner for an action; ``guards`` is what deploy and promote check first.
The I/O around them (clone, render, commit, push, retry) is ``ci.gitops.writeback``."""
