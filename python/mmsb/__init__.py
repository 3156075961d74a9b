"""mmsb: MMSB's bus from Python, through the C ABI (libmmsb_c, mmsb/c/mmsb.h) with ctypes and numpy.

    import numpy as np, mmsb
    with mmsb.Bus("/tmp/state", "plus_times<f64>", extent=256) as bus:
        p = bus.create_page()
        bus.push(p, slots=np.array([1, 5]), values=np.array([1.5, 2.0]))
        bus.tick()
        view = bus.page(p)          # zero-copy, read-only numpy view of the page
        print(view[1], hex(bus.state_hash()))

Contracts:
- A Bus is a durable bus over a directory: pushes wait until tick(), which commits them as one
  epoch (logged, then applied). Reopening the directory (Bus(dir), the shape read from the store)
  gives the state back; hash_at(e) and read_at(e, page) replay past epochs.
- page(i) returns a numpy array over the page's own memory (no copy), read-only (its WRITEABLE
  flag cannot be set). The view keeps the bus's memory alive, so it never dangles, even after
  close(). Its contents are guaranteed only until the next tick or checkpoint, as the C pointer's
  are (mmsb_page_data): take page(i) again after each tick (it is cheap), or .copy() it to keep a
  value.
- Bad input raises mmsb.Error (a subclass of ValueError, IndexError, TypeError or OSError as fits)
  naming the problem: a wrong dtype or shape, a page or slot out of range, an unknown semiring, a
  closed bus. Nothing changes when a call fails.
- The library is found through the MMSB_C_LIBRARY environment variable (a path to libmmsb_c.so),
  else the dynamic loader's search path (libmmsb_c.so.0, as installed by meson install).
- A Bus belongs to one thread at a time.
"""

import ctypes
import ctypes.util
import os
import weakref

import numpy as np

__all__ = ["Bus", "Error", "instances", "version", "ACCUMULATE", "ASSIGN"]

ACCUMULATE = 0
ASSIGN = 1

_OK = 0
_E_INVALID_ARGUMENT = 1
_E_UNKNOWN_PAGE = 2
_E_SIZE_MISMATCH = 3
_E_OUT_OF_RANGE = 4
_E_IO = 7
_E_NO_SPACE = 8

_DTYPES = {1: np.dtype(np.float32), 2: np.dtype(np.float64), 3: np.dtype(np.int64), 4: np.dtype(np.bool_)}


class Error(Exception):
    """An MMSB failure: .status is the C status code (mmsb_status), str() the message."""

    def __init__(self, message, status=_E_INVALID_ARGUMENT):
        super().__init__(message)
        self.status = status


class _ValueError(Error, ValueError):
    pass


class _IndexError(Error, IndexError):
    pass


class _TypeError(Error, TypeError):
    pass


class _OSError(Error, OSError):
    pass


def _error_for(status, message):
    if status in (_E_UNKNOWN_PAGE, _E_OUT_OF_RANGE):
        return _IndexError(message, status)
    if status in (_E_IO, _E_NO_SPACE):
        return _OSError(message, status)
    if status in (_E_INVALID_ARGUMENT, _E_SIZE_MISMATCH):
        return _ValueError(message, status)
    return Error(message, status)


def _load_library():
    path = os.environ.get("MMSB_C_LIBRARY")
    candidates = [path] if path else []
    found = ctypes.util.find_library("mmsb_c")
    if found:
        candidates.append(found)
    candidates.append("libmmsb_c.so.0")
    errors = []
    for c in candidates:
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append(f"{c}: {e}")
    raise ImportError("mmsb: cannot load libmmsb_c (set MMSB_C_LIBRARY to its path): " + "; ".join(errors))


_lib = _load_library()
_u32, _u64, _size, _vp = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p
_status = ctypes.c_int


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_version = _fn("mmsb_version", ctypes.c_char_p)
_last_error = _fn("mmsb_last_error", ctypes.c_char_p)
_instance = _fn("mmsb_instance", _status, _size, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_u32))
_open = _fn("mmsb_open", _status, ctypes.c_char_p, ctypes.c_char_p, _u32, ctypes.c_uint, ctypes.POINTER(_vp))
_close = _fn("mmsb_close", None, _vp)
_semiring = _fn("mmsb_semiring", ctypes.c_char_p, _vp)
_element_type = _fn("mmsb_element_type", ctypes.c_int, _vp)
_extent = _fn("mmsb_extent", _u32, _vp)
_create_page = _fn("mmsb_create_page", _status, _vp, _vp, ctypes.POINTER(_u32))
_page_count = _fn("mmsb_page_count", _status, _vp, ctypes.POINTER(_size))
_push_sparse = _fn("mmsb_push_sparse", _status, _vp, _u32, ctypes.c_int, _vp, _vp, _size)
_push_dense = _fn("mmsb_push_dense", _status, _vp, _u32, ctypes.c_int, _vp, _size, _vp, _size)
_tick = _fn("mmsb_tick", _status, _vp, ctypes.POINTER(_u64))
_discard = _fn("mmsb_discard", _status, _vp)
_epoch = _fn("mmsb_epoch", _status, _vp, ctypes.POINTER(_u64))
_page_data = _fn("mmsb_page_data", _status, _vp, _u32, ctypes.POINTER(_vp))
_state_hash = _fn("mmsb_state_hash", _status, _vp, ctypes.POINTER(_u64))
_hash_at = _fn("mmsb_hash_at", _status, _vp, _u64, ctypes.POINTER(_u64))
_read_at = _fn("mmsb_read_at", _status, _vp, _u64, _u32, _vp, _size)
_checkpoint = _fn("mmsb_checkpoint", _status, _vp)
_recovery = _fn("mmsb_recovery", _status, _vp, ctypes.POINTER(_u64), ctypes.POINTER(ctypes.c_char_p))


def _check(status):
    if status != _OK:
        raise _error_for(status, _last_error().decode("utf-8", "replace"))


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _version().decode()


def instances():
    """The stock instantiations: a list of (semiring name, numpy dtype, extent)."""
    out = []
    i = 0
    name, element, extent = ctypes.c_char_p(), ctypes.c_int(), _u32()
    while _instance(i, ctypes.byref(name), ctypes.byref(element), ctypes.byref(extent)) == _OK:
        out.append((name.value.decode(), _DTYPES[element.value], extent.value))
        i += 1
    return out


class _Handle:
    """Owns the C handle; closes it when the last reference (the Bus, or a page view) goes."""

    def __init__(self, ptr):
        self.ptr = ptr
        self._finalizer = weakref.finalize(self, _close, ptr)


class _PageMemory:
    """The base object of a page view: numpy's array interface over the page's memory, read-only,
    holding the handle so the memory outlives every view of it."""

    def __init__(self, handle, ptr, dtype, extent):
        self._handle = handle
        self.__array_interface__ = {
            "version": 3,
            "data": (ptr, True),  # read-only
            "shape": (extent,),
            "typestr": dtype.str,
        }


def _op_code(op):
    if op in (ACCUMULATE, "accumulate"):
        return ACCUMULATE
    if op in (ASSIGN, "assign"):
        return ASSIGN
    raise _ValueError(f"unknown op {op!r} (use 'accumulate' or 'assign')")


class Bus:
    """A durable MMSB bus over directory `path` (created if missing, recovered if there).

    semiring, extent: a stock instantiation (see instances()), e.g. "min_plus<f32>", 1024. For an
    existing store both may be left out: the shape is read from the store (a given one must match).
    sync: fsync every tick (True) or only write it (False: faster, a power loss may lose the latest
    ticks, a process crash loses nothing).
    point_in_time: open a store whose log is damaged in the middle by keeping the ticks before the
    damage (False: such a store is refused with an Error naming the segment and offset; a torn
    tail is cut either way). The ticks lost are in .lost_ticks, recovery's report in
    .recovery_report.
    """

    def __init__(self, path, semiring=None, extent=0, sync=True, point_in_time=False):
        path = os.fspath(path)
        if semiring is not None and not isinstance(semiring, str):
            raise _TypeError(f"semiring must be a name such as 'plus_times<f64>', not {type(semiring).__name__}")
        if not isinstance(extent, (int, np.integer)) or isinstance(extent, bool) or not 0 <= extent < 2**32:
            raise _ValueError(f"extent must be a slot count such as 256 (0: from the store), not {extent!r}")
        ptr = _vp()
        flags = (0 if sync else 1) | (2 if point_in_time else 0)  # MMSB_OPEN_NO_SYNC, MMSB_OPEN_POINT_IN_TIME
        _check(_open(path.encode(), semiring.encode() if semiring else None, int(extent), flags, ctypes.byref(ptr)))
        self._h = _Handle(ptr.value)
        self.path = path
        self.semiring = _semiring(ptr.value).decode()
        self.dtype = _DTYPES[_element_type(ptr.value)]
        self.extent = int(_extent(ptr.value))

    # ---- lifetime ----------------------------------------------------------------------------
    def close(self):
        """Closes the bus: pushes not ticked are dropped. The C handle is released once no page
        view refers to it any more. Calling close() again does nothing."""
        self._h = None

    @property
    def closed(self):
        return self._h is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{self.page_count} pages, epoch {self.epoch}"
        return f"mmsb.Bus({self.path!r}, {self.semiring!r}, extent={self.extent}: {state})"

    def _ptr(self):
        if self._h is None:
            raise _ValueError(f"bus {self.path!r} is closed")
        return self._h.ptr

    # ---- pages ---------------------------------------------------------------------------------
    def create_page(self, initial=None):
        """A new page, every slot at the semiring's zero (or at `initial`); returns its id
        (0, 1, 2, ... in creation order). Durable with the next tick that commits a change."""
        ptr = self._ptr()
        pid = _u32()
        if initial is None:
            _check(_create_page(ptr, None, ctypes.byref(pid)))
        else:
            v = self._values(np.asarray([initial]), "initial")
            _check(_create_page(ptr, v.ctypes.data, ctypes.byref(pid)))
        return pid.value

    @property
    def page_count(self):
        n = _size()
        _check(_page_count(self._ptr(), ctypes.byref(n)))
        return n.value

    def __len__(self):
        return self.page_count

    @property
    def epoch(self):
        """The epoch of the last committed tick (0 for a new store)."""
        e = _u64()
        _check(_epoch(self._ptr(), ctypes.byref(e)))
        return e.value

    @property
    def lost_ticks(self):
        """How many committed ticks recovery dropped after mid-log damage when this bus was opened
        (0 unless opened with point_in_time=True or sync=False on a damaged log)."""
        n = _u64()
        _check(_recovery(self._ptr(), ctypes.byref(n), None))
        return n.value

    @property
    def recovery_report(self):
        """Recovery's one-line report from the open: checkpoint, epochs replayed, any damage."""
        text = ctypes.c_char_p()
        _check(_recovery(self._ptr(), None, ctypes.byref(text)))
        return text.value.decode("utf-8", "replace")

    def _page_id(self, page):
        if isinstance(page, bool) or not isinstance(page, (int, np.integer)):
            raise _TypeError(f"page must be an integer id, not {type(page).__name__}")
        n = self.page_count
        if not 0 <= page < n:
            raise _IndexError(f"page {page} does not exist (the bus has {n} pages, numbered from 0)", _E_UNKNOWN_PAGE)
        return int(page)

    def _values(self, values, what):
        """values as a contiguous 1-D array of the bus's dtype; a numpy array must already have it,
        a list or scalar is converted when numpy's same_kind casting allows."""
        if isinstance(values, np.ndarray):
            if values.dtype != self.dtype:
                raise _TypeError(f"{what} has dtype {values.dtype}; this bus ({self.semiring}) holds {self.dtype}")
            arr = values
        else:
            arr = np.asarray(values)
            if not np.can_cast(arr.dtype, self.dtype, "same_kind"):
                raise _TypeError(f"{what} ({arr.dtype}) cannot be converted to this bus's {self.dtype} ({self.semiring})")
            arr = arr.astype(self.dtype)
        if arr.ndim != 1:
            raise _ValueError(f"{what} must be 1-D, not of shape {arr.shape}", _E_SIZE_MISMATCH)
        return np.ascontiguousarray(arr)

    # ---- changes -------------------------------------------------------------------------------
    def push(self, page, slots, values, op="accumulate"):
        """Queues changes to `page`: slot slots[k] takes values[k] ('accumulate': x <- x (+) v under
        the semiring; 'assign': x <- v). slots: 1-D integers below the extent; values: 1-D, the
        bus's dtype, as long as slots. Repeated slots fold in order at the tick."""
        ptr = self._ptr()
        code = _op_code(op)
        pid = self._page_id(page)
        s = np.asarray(slots)
        if s.ndim != 1:
            raise _ValueError(f"slots must be 1-D, not of shape {s.shape}", _E_SIZE_MISMATCH)
        if s.size and s.dtype.kind not in "iu":
            raise _TypeError(f"slots must be integers, not {s.dtype}")
        v = self._values(values, "values")
        if len(s) != len(v):
            raise _ValueError(f"page {pid}: {len(s)} slots but {len(v)} values", _E_SIZE_MISMATCH)
        if s.size:
            lo, hi = int(s.min()), int(s.max())
            if lo < 0 or hi >= self.extent:
                bad = lo if lo < 0 else hi
                raise _IndexError(f"page {pid}: slot {bad} is out of range (pages hold {self.extent} slots)", _E_OUT_OF_RANGE)
        s = np.ascontiguousarray(s, dtype=np.uint32)
        _check(_push_sparse(ptr, pid, code, s.ctypes.data, v.ctypes.data, len(s)))

    def push_dense(self, page, mask, payload, op="accumulate"):
        """Queues a dense delta to `page`: every slot i with mask[i] true takes payload[i].
        mask: bool array of shape (extent,); payload: array of shape (extent,) and the bus's dtype
        (unmasked entries are ignored)."""
        ptr = self._ptr()
        code = _op_code(op)
        pid = self._page_id(page)
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise _TypeError(f"mask must be a bool array, not {m.dtype}")
        if m.shape != (self.extent,):
            raise _ValueError(f"page {pid}: mask has shape {m.shape}; pages hold ({self.extent},)", _E_SIZE_MISMATCH)
        p = self._values(payload, "payload")
        if p.shape != (self.extent,):
            raise _ValueError(f"page {pid}: payload has shape {p.shape}; pages hold ({self.extent},)", _E_SIZE_MISMATCH)
        words = (self.extent + 63) // 64
        packed = np.zeros(words * 8, dtype=np.uint8)
        bits = np.packbits(m, bitorder="little")
        packed[: len(bits)] = bits
        packed = packed.view("<u8")
        _check(_push_dense(ptr, pid, code, packed.ctypes.data, words, p.ctypes.data, p.nbytes))

    def tick(self):
        """Commits everything queued as one epoch (logged, then applied); returns the epoch. With
        nothing queued it commits nothing and returns the current epoch."""
        e = _u64()
        _check(_tick(self._ptr(), ctypes.byref(e)))
        return e.value

    def discard(self):
        """Drops the changes queued since the last tick."""
        _check(_discard(self._ptr()))

    def checkpoint(self):
        """Writes every page at the current epoch; the log before it is then removed, so epochs
        before it can no longer be replayed."""
        _check(_checkpoint(self._ptr()))

    # ---- reads ---------------------------------------------------------------------------------
    def page(self, page):
        """A read-only numpy view of the page's memory, without copying (see the module's
        contract for how long its contents mean what they say)."""
        ptr = self._ptr()
        pid = self._page_id(page)
        data = _vp()
        _check(_page_data(ptr, pid, ctypes.byref(data)))
        return np.asarray(_PageMemory(self._h, data.value, self.dtype, self.extent))

    def page_address(self, page):
        """The address of the page's memory (what page(i) views), for other zero-copy consumers.
        A bare int keeps nothing alive: valid only while the bus is open and until its next tick
        or checkpoint (mmsb_page_data's contract). Prefer page(i), whose view holds the memory."""
        ptr = self._ptr()
        data = _vp()
        _check(_page_data(ptr, self._page_id(page), ctypes.byref(data)))
        return data.value

    def __getitem__(self, page):
        return self.page(page)

    def state_hash(self):
        """The state hash (xxh3 over every page's id and bytes), an int."""
        h = _u64()
        _check(_state_hash(self._ptr(), ctypes.byref(h)))
        return h.value

    @staticmethod
    def _epoch(epoch):
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise _TypeError(f"epoch must be an integer, not {type(epoch).__name__}")
        if not 0 <= epoch < 2**64:
            raise _IndexError(f"epoch {epoch} is out of range (0 to 2**64 - 1)", _E_OUT_OF_RANGE)
        return int(epoch)

    def hash_at(self, epoch):
        """Replay: the state hash at a past epoch the retained files cover."""
        e = self._epoch(epoch)
        h = _u64()
        _check(_hash_at(self._ptr(), e, ctypes.byref(h)))
        return h.value

    def read_at(self, epoch, page):
        """Replay: a copy of the page as it was at `epoch` (a new, writable array)."""
        ptr = self._ptr()
        epoch = self._epoch(epoch)
        if isinstance(page, bool) or not isinstance(page, (int, np.integer)) or not 0 <= page < 2**32:
            raise _IndexError(f"page {page!r} is not a page id", _E_UNKNOWN_PAGE)
        out = np.empty(self.extent, dtype=self.dtype)
        _check(_read_at(ptr, epoch, int(page), out.ctypes.data, out.nbytes))
        return out
