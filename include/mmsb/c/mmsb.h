/* mmsb/c/mmsb.h: the C ABI of MMSB (libmmsb_c.so). A durable bus over a directory, for C and for
 * any language with a C foreign-function interface (python/mmsb uses it through ctypes).
 *
 * It exposes the stock instantiations, basic_bus<S, dense<T, N>> with the posix file system,
 * chosen at run time by name and extent:
 *
 *   semiring name      element        extents
 *   plus_times<f64>    MMSB_F64       256, 1024
 *   plus_times<f32>    MMSB_F32       256, 1024
 *   plus_times<i64>    MMSB_I64       256, 1024
 *   min_plus<f64>      MMSB_F64       256, 1024
 *   min_plus<f32>      MMSB_F32       256, 1024
 *   max_plus<f64>      MMSB_F64       256, 1024
 *   max_min<f64>       MMSB_F64       256, 1024
 *   or_and             MMSB_BOOL      256, 1024
 *
 * (The names are the semiring names the store's shape descriptor records; mmsb_instances lists
 * them.) Other combinations need C++ (include <mmsb/mmsb.hpp>).
 *
 * The model: mmsb_push_* queue changes in the handle; mmsb_tick commits everything queued as one
 * epoch (one logged transaction: logged, durable per the open flags, then applied), so readers
 * never see part of a tick. Changes to one slot within a tick fold in call order: accumulates
 * under the semiring's add, and a later assign overrides what came before.
 *
 * Errors: every function that can fail returns an mmsb_status (MMSB_OK, 0, on success). On
 * failure it changes nothing (no partial push, no partial tick) and sets a message for the
 * calling thread, read with mmsb_last_error(), that names what was at fault (the page, the slot,
 * the size, the path, the name). No C++ exception crosses this interface and bad input (null
 * pointers, unknown pages, wrong sizes, unknown names) never crashes.
 *
 * Threads: a bus belongs to one thread at a time. Calls on one bus are serialized by a lock in
 * the handle, but a page pointer (mmsb_page_data) read on one thread is invalidated by a tick on
 * another. Different buses are independent. mmsb_last_error is per thread.
 *
 * Valid C11 and C++; link with -lmmsb_c. */
#ifndef MMSB_C_MMSB_H
#define MMSB_C_MMSB_H

#include <stddef.h>
#include <stdint.h>

/* Marks the exported functions (libmmsb_c is built with hidden visibility). */
#if defined(_WIN32)
#define MMSB_C_API
#elif defined(__GNUC__)
#define MMSB_C_API __attribute__((visibility("default")))
#else
#define MMSB_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. 1..15 are mmsb::errc's values (mmsb/config/error.hpp) and mean the same. */
typedef enum mmsb_status {
  MMSB_OK = 0,
  MMSB_E_INVALID_ARGUMENT = 1, /* a null pointer, an unknown name or op, a malformed buffer */
  MMSB_E_UNKNOWN_PAGE = 2,     /* a page id the bus does not hold */
  MMSB_E_SIZE_MISMATCH = 3,    /* a buffer whose size does not fit the page */
  MMSB_E_OUT_OF_RANGE = 4,     /* a slot past the extent, an epoch the files do not cover */
  MMSB_E_CYCLE = 5,
  MMSB_E_CONFLICT = 6,
  MMSB_E_IO = 7,               /* an operating-system I/O call failed (errno in the message) */
  MMSB_E_NO_SPACE = 8,
  MMSB_E_CORRUPT = 9,          /* a damaged log or checkpoint */
  MMSB_E_BAD_FORMAT = 10,      /* files of another shape (semiring, element, extent) or format */
  MMSB_E_OUT_OF_MEMORY = 11,
  MMSB_E_NOT_CONVERGED = 12,
  MMSB_E_DEVICE = 13,
  MMSB_E_UNSUPPORTED = 14,     /* a valid combination this library does not instantiate */
  MMSB_E_STATE = 15,           /* not allowed in the object's state */
  MMSB_E_INTERNAL = 100        /* an unexpected failure inside the library (a bug: report it) */
} mmsb_status;

/* Element types of the stock pages. */
typedef enum mmsb_element {
  MMSB_F32 = 1,  /* float, 4 bytes */
  MMSB_F64 = 2,  /* double, 8 bytes */
  MMSB_I64 = 3,  /* int64_t, 8 bytes */
  MMSB_BOOL = 4  /* one byte per slot, 0 or 1 (pushed values: any nonzero byte is 1) */
} mmsb_element;

/* How a pushed value changes its slot: x <- x (+) v, or x <- v. (The push functions take it as an int,
 * so that any value a caller passes is defined behaviour, and refused unless it is one of these.) */
typedef enum mmsb_op { MMSB_ACCUMULATE = 0, MMSB_ASSIGN = 1 } mmsb_op;

/* mmsb_open flag: each tick is written to the file but not fsync'd. Faster; a process crash
 * loses nothing, a power loss may lose the latest ticks. */
#define MMSB_OPEN_NO_SYNC 1u

/* mmsb_open flag: open a store whose log is damaged in the middle (valid records after the damage)
 * by keeping the records before it; the ticks after the damage are lost, and mmsb_recovery says
 * how many. Without it such a store is refused (MMSB_E_CORRUPT naming the segment, the offset and
 * how many records follow); a torn tail (an unfinished last record) is cut either way. Under
 * MMSB_OPEN_NO_SYNC this is the behaviour anyway: unsynced ticks were never promised. */
#define MMSB_OPEN_POINT_IN_TIME 2u

/* An open bus: an opaque handle from mmsb_open, released by mmsb_close. Calls on one handle are
 * serialized, but it belongs to one thread at a time (see the top of this header). */
typedef struct mmsb_bus mmsb_bus;

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. */
MMSB_C_API const char* mmsb_version(void);

/* The message of the calling thread's last failed call ("" if none failed yet). Valid until that
 * thread's next call into this library. Successful calls leave it as it was. */
MMSB_C_API const char* mmsb_last_error(void);

/* A short name for a status (an mmsb_status; "ok", "unknown page", ...), "unknown status" for any
 * other value; never NULL. */
MMSB_C_API const char* mmsb_status_name(int status);

/* The i-th stock instantiation (0-based): its semiring name, element and extent. Returns
 * MMSB_E_OUT_OF_RANGE past the last one (so a loop from 0 lists them all). Null outputs are
 * skipped. */
MMSB_C_API mmsb_status mmsb_instance(size_t i, const char** semiring, mmsb_element* element, uint32_t* extent);

/* Opens the bus stored in directory `dir`, creating it (and missing parent directories) if there
 * is none, and recovering it (the newest checkpoint, then the log) if there is one.
 *   semiring, extent: the instantiation (see the table above). For an existing store both may be
 *     NULL and 0: the shape is then read from the store's log; a given one must match it.
 *   flags: 0, or MMSB_OPEN_NO_SYNC and/or MMSB_OPEN_POINT_IN_TIME (or'ed).
 * On success *out is a new handle (close it with mmsb_close). On failure *out is NULL:
 * MMSB_E_INVALID_ARGUMENT for an unknown semiring name, MMSB_E_UNSUPPORTED for an extent not
 * instantiated, MMSB_E_BAD_FORMAT for a store of another shape, MMSB_E_CORRUPT for a damaged one,
 * MMSB_E_IO naming the path. */
MMSB_C_API mmsb_status mmsb_open(const char* dir, const char* semiring, uint32_t extent, unsigned flags, mmsb_bus** out);

/* Closes the bus: changes pushed but not ticked are dropped, every page pointer becomes invalid.
 * NULL is a no-op. */
MMSB_C_API void mmsb_close(mmsb_bus* bus);

/* The instantiation of an open bus. Each returns 0 / NULL for a NULL bus. */
MMSB_C_API const char* mmsb_semiring(const mmsb_bus* bus);
/* The element type of its slots. */
MMSB_C_API mmsb_element mmsb_element_type(const mmsb_bus* bus);
MMSB_C_API size_t mmsb_element_size(const mmsb_bus* bus);   /* bytes per slot */
MMSB_C_API uint32_t mmsb_extent(const mmsb_bus* bus);      /* slots per page */

/* Creates a page with every slot at the semiring's zero, or at *initial (one element of the
 * bus's type) if initial is not NULL; its id goes to *id. Pages are numbered 0, 1, 2, ... in
 * creation order. A new page is in memory at once and durable with the next mmsb_tick or
 * mmsb_checkpoint, which commit it even with nothing queued (an epoch of its own). */
MMSB_C_API mmsb_status mmsb_create_page(mmsb_bus* bus, const void* initial, uint32_t* id);

/* The number of pages (ids run from 0 to count - 1). */
MMSB_C_API mmsb_status mmsb_page_count(const mmsb_bus* bus, size_t* count);

/* Queues `count` changes to page `page`: slot slots[k] takes values[k] under op. `values` holds
 * count elements of the bus's type. Slots need not be sorted; repeats fold in order. Checked
 * before anything is queued: the page must exist (MMSB_E_UNKNOWN_PAGE), each slot be below the
 * extent (MMSB_E_OUT_OF_RANGE naming it), op be one of mmsb_op. count 0 is a no-op (the
 * pointers may then be NULL). */
MMSB_C_API mmsb_status mmsb_push_sparse(mmsb_bus* bus, uint32_t page, int op, const uint32_t* slots, const void* values,
                             size_t count);

/* Queues the changes of a dense delta to page `page`: for every slot i whose bit is set in
 * `mask` (bit i % 64 of mask[i / 64]; (extent + 63) / 64 words, bits past the extent must be 0),
 * slot i takes payload[i] under op. `payload` holds extent elements; unmasked ones are ignored.
 * mask_words and payload_bytes are the buffers' sizes, checked (MMSB_E_SIZE_MISMATCH). */
MMSB_C_API mmsb_status mmsb_push_dense(mmsb_bus* bus, uint32_t page, int op, const uint64_t* mask, size_t mask_words,
                            const void* payload, size_t payload_bytes);

/* Commits everything queued since the last tick as one epoch: logged (fsync'd unless
 * MMSB_OPEN_NO_SYNC), then applied. *epoch (if not NULL) gets the bus's epoch afterwards. With
 * nothing queued and no page created since the last tick it commits nothing and the epoch stays.
 * On failure nothing is applied and the changes stay queued, but mind the cause:
 *   MMSB_E_SIZE_MISMATCH: the tick's log record is past the log's record limit (64 MiB); every
 *     retry fails the same way: mmsb_discard and push the changes over several ticks.
 *   MMSB_E_IO: a failed write or fsync refuses every later tick (the log may hold the record):
 *     mmsb_close, reopen, and compare mmsb_epoch with the epoch you expected before pushing again.
 * Invalidates page pointers. */
MMSB_C_API mmsb_status mmsb_tick(mmsb_bus* bus, uint64_t* epoch);

/* Drops the changes queued since the last tick. */
MMSB_C_API mmsb_status mmsb_discard(mmsb_bus* bus);

/* The epoch of the last committed tick (0 for a new store). */
MMSB_C_API mmsb_status mmsb_epoch(const mmsb_bus* bus, uint64_t* epoch);

/* What recovery found when the bus was opened. *lost_ticks (if not NULL): the committed ticks it
 * dropped at mid-log damage, from the damaged one to the newest found after it (0 unless opened
 * with MMSB_OPEN_POINT_IN_TIME or MMSB_OPEN_NO_SYNC on a damaged log). *report (if not NULL): one
 * line naming the checkpoint, the epochs replayed and any damage (segment, offset, bytes dropped,
 * commits found after it); valid until mmsb_close. */
MMSB_C_API mmsb_status mmsb_recovery(const mmsb_bus* bus, uint64_t* lost_ticks, const char** report);

/* A pointer to page `page`'s extent elements, without copying. Read-only. Valid until the next
 * mmsb_tick, mmsb_checkpoint or mmsb_close on this bus; read it again after those. */
MMSB_C_API mmsb_status mmsb_page_data(const mmsb_bus* bus, uint32_t page, const void** data);

/* The state hash: xxh3 over every page's id and bytes in ascending id order. Equal states give
 * equal hashes across processes, runs and reopenings. */
MMSB_C_API mmsb_status mmsb_state_hash(const mmsb_bus* bus, uint64_t* hash);

/* Replay: the state hash at a past epoch, rebuilt from the newest retained checkpoint at or before
 * it and the log after it. MMSB_E_OUT_OF_RANGE for an epoch the retained files do not cover (the
 * message names the oldest reachable). The bus is untouched. */
MMSB_C_API mmsb_status mmsb_hash_at(const mmsb_bus* bus, uint64_t epoch, uint64_t* hash);

/* Replay: copies page `page` as it was at `epoch` into out (out_bytes must be extent * element
 * size). MMSB_E_UNKNOWN_PAGE if the page did not exist then. The bus is untouched. */
MMSB_C_API mmsb_status mmsb_read_at(const mmsb_bus* bus, uint64_t epoch, uint32_t page, void* out, size_t out_bytes);

/* Writes a checkpoint of every page at the current epoch (durable when it returns), after which
 * the log it covers is removed: epochs before it are no longer reachable by mmsb_hash_at. Pages
 * created since the last tick are committed first (as by mmsb_tick); changes queued and not
 * ticked stay queued and are not in the checkpoint. Invalidates page pointers. */
MMSB_C_API mmsb_status mmsb_checkpoint(mmsb_bus* bus);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MMSB_C_MMSB_H */
