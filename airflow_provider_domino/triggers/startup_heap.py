"""Keep the garbage collector's full passes from holding the triggerer's event loop.

A full collection walks every object the process tracks, and nothing else runs in the meantime: in a
triggerer, no trigger polls, logs or fires. Airflow and the modules it imports are about 160,000
objects; a full pass over them took 65 ms of CPU on the 2-core benchmark machine, 140 ms with a
thousand triggers running, and any allocation anywhere in the process can start one. The provider's own
requests and log pages leave no garbage in reference cycles (see ``hooks.retry`` and
``api.models.log_entry_tuple``), which made full passes rarer, but each one still walks the whole heap.

Nearly all of that heap lives as long as the process: modules, classes, functions, configuration.
:func:`gc.freeze` moves every object alive at that moment into a permanent generation that collections
skip, so later passes walk only what was allocated since. This is done once per process, after the
first Domino trigger's first poll (the triggerer is up, and the modules a trigger needs are loaded).
Garbage made later is collected as before; the cost is that cyclic garbage alive at that one moment is
never freed (bounded, once). Airflow's own DAG processor manager freezes its heap the same way.

``[domino] triggerer_gc_freeze = False`` (``AIRFLOW__DOMINO__TRIGGERER_GC_FREEZE=False``) turns it off.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

CONFIG_SECTION, CONFIG_OPTION = "domino", "triggerer_gc_freeze"

_frozen_once = False


def freeze_startup_heap_once() -> bool:
    """Freeze the heap the first time this is called in a process (unless configured off).

    :return: whether this call froze it.
    """
    global _frozen_once
    if _frozen_once:
        return False
    _frozen_once = True
    if not _enabled():
        return False
    gc.freeze()
    log.info(
        "Froze %d start-up objects out of the garbage collector's passes ([%s] %s)",
        gc.get_freeze_count(),
        CONFIG_SECTION,
        CONFIG_OPTION,
    )
    return True


def _enabled() -> bool:
    try:
        from airflow.configuration import conf

        return conf.getboolean(CONFIG_SECTION, CONFIG_OPTION, fallback=True)
    except Exception:  # an unreadable value: the documented default
        return True
