"""The job lifecycle: which job a try owns, what one status check means, the poll schedule, the
coalesced status watcher, and how a job's log is read (the log cursor)."""
