/* tests/c/abi.c: the C ABI (mmsb/c/mmsb.h) from C11. Create a durable bus in a temp dir, push
 * sparse and dense deltas, tick, read pages without copying, replay past epochs, reopen (with
 * the shape read from the store), checkpoint, and every error path: null pointers, unknown
 * pages, slots past the extent, wrong sizes, unknown names, a store of another shape. Each
 * failure must return a code and a message naming the problem, and change nothing. */
#define _XOPEN_SOURCE 700
#include <mmsb/c/mmsb.h>

#include <dirent.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond,      \
              mmsb_last_error());                                                                  \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* The call must succeed. */
#define OK(call) CHECK((call) == MMSB_OK)

/* The call must fail with `status` and a message containing `needle`. */
#define FAILS(call, status, needle)                                                                \
  do {                                                                                             \
    mmsb_status s_ = (call);                                                                       \
    if (s_ != (status) || strstr(mmsb_last_error(), (needle)) == NULL) {                           \
      fprintf(stderr, "%s:%d: %s gave %d (%s), message '%s'; expected %d with '%s'\n", __FILE__,   \
              __LINE__, #call, (int)s_, mmsb_status_name(s_), mmsb_last_error(), (int)(status),    \
              (needle));                                                                           \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

static int remove_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static const double* page_f64(const mmsb_bus* bus, uint32_t page)
{
  const void* data = NULL;
  if (mmsb_page_data(bus, page, &data) != MMSB_OK) return NULL;
  return (const double*)data;
}

static void instances(void)
{
  size_t n = 0;
  const char* name = NULL;
  mmsb_element element = MMSB_F32;
  uint32_t extent = 0;
  while (mmsb_instance(n, &name, &element, &extent) == MMSB_OK) {
    CHECK(name != NULL && extent > 0);
    ++n;
  }
  CHECK(n == 16);
  FAILS(mmsb_instance(n, NULL, NULL, NULL), MMSB_E_OUT_OF_RANGE, "16 instances");
  OK(mmsb_instance(0, &name, &element, &extent));
  CHECK(strcmp(name, "plus_times<f64>") == 0 && element == MMSB_F64 && extent == 256);
  CHECK(strcmp(mmsb_status_name(MMSB_E_UNKNOWN_PAGE), "unknown page") == 0);
  CHECK(strcmp(mmsb_status_name(-3), "unknown status") == 0);
  CHECK(strlen(mmsb_version()) >= 5);
}

/* Create, push, tick, read, replay; returns the state hash at the end (epoch 2). */
static uint64_t first_session(const char* dir, uint64_t* hash_at_1)
{
  mmsb_bus* bus = NULL;
  OK(mmsb_open(dir, "plus_times<f64>", 256, MMSB_OPEN_NO_SYNC, &bus));
  CHECK(bus != NULL);
  if (!bus) return 0;
  CHECK(strcmp(mmsb_semiring(bus), "plus_times<f64>") == 0);
  CHECK(mmsb_element_type(bus) == MMSB_F64 && mmsb_element_size(bus) == 8 && mmsb_extent(bus) == 256);

  uint32_t ids[3] = {99, 99, 99};
  const double initial = 10.0;
  OK(mmsb_create_page(bus, NULL, &ids[0]));
  OK(mmsb_create_page(bus, &initial, &ids[1]));
  OK(mmsb_create_page(bus, NULL, &ids[2]));
  CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
  size_t count = 0;
  OK(mmsb_page_count(bus, &count));
  CHECK(count == 3);

  /* Sparse: repeated slots fold in call order. */
  const uint32_t slots[] = {1, 5, 1};
  const double values[] = {1.5, 2.0, 0.25};
  OK(mmsb_push_sparse(bus, 0, MMSB_ACCUMULATE, slots, values, 3));
  /* Dense: slots 0, 63, 64 and 255 of page 2 take payload[i] = i + 0.5. */
  uint64_t mask[4] = {1u | (1ull << 63), 1u, 0u, 1ull << 63};
  double payload[256];
  for (int i = 0; i < 256; ++i) payload[i] = i + 0.5;
  OK(mmsb_push_dense(bus, 2, MMSB_ASSIGN, mask, 4, payload, sizeof payload));

  /* Nothing is visible before the tick. */
  const double* p0 = page_f64(bus, 0);
  CHECK(p0 != NULL && p0[1] == 0.0);

  uint64_t epoch = 0;
  OK(mmsb_tick(bus, &epoch));
  CHECK(epoch == 1);
  p0 = page_f64(bus, 0);
  const double* p1 = page_f64(bus, 1);
  const double* p2 = page_f64(bus, 2);
  CHECK(p0 && p1 && p2);
  if (p0 && p1 && p2) {
    CHECK(p0[1] == 1.75 && p0[5] == 2.0 && p0[0] == 0.0);
    CHECK(p1[0] == 10.0 && p1[255] == 10.0);
    CHECK(p2[0] == 0.5 && p2[63] == 63.5 && p2[64] == 64.5 && p2[255] == 255.5 && p2[1] == 0.0);
  }
  OK(mmsb_state_hash(bus, hash_at_1));

  /* A tick with nothing queued commits nothing. */
  OK(mmsb_tick(bus, &epoch));
  CHECK(epoch == 1);

  /* Failed pushes change nothing: a slot past the extent among valid ones queues none of them. */
  const uint32_t bad_slots[] = {3, 256};
  const double bad_values[] = {1.0, 2.0};
  FAILS(mmsb_push_sparse(bus, 1, MMSB_ACCUMULATE, bad_slots, bad_values, 2), MMSB_E_OUT_OF_RANGE, "slots[1] = 256");
  FAILS(mmsb_push_sparse(bus, 7, MMSB_ACCUMULATE, slots, values, 1), MMSB_E_UNKNOWN_PAGE, "page 7");
  FAILS(mmsb_push_sparse(bus, 0, 9, slots, values, 1), MMSB_E_INVALID_ARGUMENT, "unknown op 9");
  FAILS(mmsb_push_sparse(bus, 0, MMSB_ACCUMULATE, NULL, values, 1), MMSB_E_INVALID_ARGUMENT, "slots is NULL");
  FAILS(mmsb_push_sparse(bus, 0, MMSB_ACCUMULATE, slots, NULL, 1), MMSB_E_INVALID_ARGUMENT, "values is NULL");
  OK(mmsb_push_sparse(bus, 0, MMSB_ACCUMULATE, NULL, NULL, 0));
  FAILS(mmsb_push_dense(bus, 2, MMSB_ASSIGN, mask, 3, payload, sizeof payload), MMSB_E_SIZE_MISMATCH, "need 4");
  FAILS(mmsb_push_dense(bus, 2, MMSB_ASSIGN, mask, 4, payload, 100), MMSB_E_SIZE_MISMATCH, "100 bytes");
  FAILS(mmsb_push_dense(bus, 9, MMSB_ASSIGN, mask, 4, payload, sizeof payload), MMSB_E_UNKNOWN_PAGE, "page 9");
  FAILS(mmsb_push_dense(bus, 2, MMSB_ASSIGN, NULL, 4, payload, sizeof payload), MMSB_E_INVALID_ARGUMENT, "mask is NULL");
  OK(mmsb_tick(bus, &epoch));
  CHECK(epoch == 1);

  /* Reads and queries with bad input. */
  const void* data = NULL;
  FAILS(mmsb_page_data(bus, 3, &data), MMSB_E_UNKNOWN_PAGE, "page 3 does not exist");
  FAILS(mmsb_page_data(bus, 0, NULL), MMSB_E_INVALID_ARGUMENT, "data is NULL");
  FAILS(mmsb_page_data(NULL, 0, &data), MMSB_E_INVALID_ARGUMENT, "bus is NULL");
  FAILS(mmsb_tick(NULL, NULL), MMSB_E_INVALID_ARGUMENT, "bus is NULL");
  FAILS(mmsb_create_page(bus, NULL, NULL), MMSB_E_INVALID_ARGUMENT, "id is NULL");
  FAILS(mmsb_state_hash(bus, NULL), MMSB_E_INVALID_ARGUMENT, "hash is NULL");
  CHECK(mmsb_semiring(NULL) == NULL && mmsb_extent(NULL) == 0 && mmsb_element_size(NULL) == 0);

  /* Epoch 2, then replay epoch 1 without disturbing the bus. */
  const uint32_t s3 = 3;
  const double v7 = 7.0;
  OK(mmsb_push_sparse(bus, 1, MMSB_ACCUMULATE, &s3, &v7, 1));
  /* A discarded push never reaches a tick. */
  OK(mmsb_push_sparse(bus, 0, MMSB_ASSIGN, &s3, &v7, 1));
  OK(mmsb_discard(bus));
  OK(mmsb_push_sparse(bus, 1, MMSB_ACCUMULATE, &s3, &v7, 1));
  OK(mmsb_tick(bus, &epoch));
  CHECK(epoch == 2);
  p0 = page_f64(bus, 0);
  p1 = page_f64(bus, 1);
  CHECK(p0 && p0[3] == 0.0);
  CHECK(p1 && p1[3] == 17.0);

  uint64_t h2 = 0, replayed = 0;
  OK(mmsb_state_hash(bus, &h2));
  CHECK(h2 != *hash_at_1);
  OK(mmsb_hash_at(bus, 1, &replayed));
  CHECK(replayed == *hash_at_1);
  OK(mmsb_hash_at(bus, 2, &replayed));
  CHECK(replayed == h2);
  FAILS(mmsb_hash_at(bus, 99, &replayed), MMSB_E_OUT_OF_RANGE, "99");

  double old[256];
  OK(mmsb_read_at(bus, 1, 1, old, sizeof old));
  CHECK(old[3] == 10.0);
  FAILS(mmsb_read_at(bus, 1, 1, old, 8), MMSB_E_SIZE_MISMATCH, "8 bytes");
  FAILS(mmsb_read_at(bus, 1, 5, old, sizeof old), MMSB_E_UNKNOWN_PAGE, "page 5");
  OK(mmsb_epoch(bus, &epoch));
  CHECK(epoch == 2);

  mmsb_close(bus);
  return h2;
}

/* Reopen from the directory: the shape from the store, the state as it was. */
static void second_session(const char* dir, uint64_t h1, uint64_t h2)
{
  mmsb_bus* bus = NULL;
  OK(mmsb_open(dir, NULL, 0, 0, &bus));
  CHECK(bus != NULL);
  if (!bus) return;
  CHECK(strcmp(mmsb_semiring(bus), "plus_times<f64>") == 0 && mmsb_extent(bus) == 256);
  uint64_t epoch = 0, h = 0;
  OK(mmsb_epoch(bus, &epoch));
  CHECK(epoch == 2);
  OK(mmsb_state_hash(bus, &h));
  CHECK(h == h2);
  OK(mmsb_hash_at(bus, 1, &h));
  CHECK(h == h1);
  const double* p1 = page_f64(bus, 1);
  CHECK(p1 && p1[3] == 17.0);

  /* A checkpoint, one more tick, and the state survives another reopening. */
  OK(mmsb_checkpoint(bus));
  const uint32_t s = 0;
  const double v = -1.0;
  OK(mmsb_push_sparse(bus, 0, MMSB_ASSIGN, &s, &v, 1));
  OK(mmsb_tick(bus, &epoch));
  CHECK(epoch == 3);
  uint64_t h3 = 0;
  OK(mmsb_state_hash(bus, &h3));
  FAILS(mmsb_hash_at(bus, 1, &h), MMSB_E_OUT_OF_RANGE, "epoch");
  mmsb_close(bus);

  bus = NULL;
  OK(mmsb_open(dir, "plus_times<f64>", 256, 0, &bus));
  if (!bus) return;
  OK(mmsb_state_hash(bus, &h));
  CHECK(h == h3);
  const double* p0 = page_f64(bus, 0);
  CHECK(p0 && p0[0] == -1.0 && p0[1] == 1.75);
  mmsb_close(bus);
}

static void open_errors(const char* root)
{
  char dir[512];
  mmsb_bus* bus = (mmsb_bus*)&dir; /* must be set to NULL on failure */
  snprintf(dir, sizeof dir, "%s/bus", root);
  FAILS(mmsb_open(dir, "min_plus<f64>", 256, 0, &bus), MMSB_E_BAD_FORMAT, dir);
  CHECK(bus == NULL);
  FAILS(mmsb_open(dir, "plus_times<f64>", 1024, 0, &bus), MMSB_E_BAD_FORMAT, dir);
  FAILS(mmsb_open(dir, "plus_times<f16>", 256, 0, &bus), MMSB_E_INVALID_ARGUMENT, "unknown semiring 'plus_times<f16>'");
  FAILS(mmsb_open(dir, "min_plus<f64>", 512, 0, &bus), MMSB_E_UNSUPPORTED, "extent 512");
  FAILS(mmsb_open(dir, "plus_times<f64>", 256, 8, &bus), MMSB_E_INVALID_ARGUMENT, "unknown flags 8");
  FAILS(mmsb_open(NULL, "plus_times<f64>", 256, 0, &bus), MMSB_E_INVALID_ARGUMENT, "dir is NULL");
  FAILS(mmsb_open("", "plus_times<f64>", 256, 0, &bus), MMSB_E_INVALID_ARGUMENT, "dir is empty");
  FAILS(mmsb_open(dir, "plus_times<f64>", 256, 0, NULL), MMSB_E_INVALID_ARGUMENT, "out is NULL");
  snprintf(dir, sizeof dir, "%s/empty", root);
  FAILS(mmsb_open(dir, NULL, 0, 0, &bus), MMSB_E_INVALID_ARGUMENT, "no store here");
  /* A path under a regular file cannot hold a store. */
  snprintf(dir, sizeof dir, "%s/file", root);
  FILE* f = fopen(dir, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
  snprintf(dir, sizeof dir, "%s/file/bus", root);
  mmsb_status s = mmsb_open(dir, "plus_times<f64>", 256, 0, &bus);
  CHECK(s == MMSB_E_IO && bus == NULL);
  CHECK(strstr(mmsb_last_error(), "file") != NULL);
  mmsb_close(NULL);
}

/* or_and over bool slots: any nonzero byte pushed is true; reads are 0 or 1. */
static void boolean_bus(const char* root)
{
  char dir[512];
  snprintf(dir, sizeof dir, "%s/nested/reach", root);
  mmsb_bus* bus = NULL;
  OK(mmsb_open(dir, "or_and", 1024, MMSB_OPEN_NO_SYNC, &bus));
  if (!bus) return;
  CHECK(mmsb_element_type(bus) == MMSB_BOOL && mmsb_element_size(bus) == 1);
  uint32_t id = 0;
  OK(mmsb_create_page(bus, NULL, &id));
  const uint32_t slots[] = {0, 1023};
  const unsigned char values[] = {2, 1};
  OK(mmsb_push_sparse(bus, id, MMSB_ACCUMULATE, slots, values, 2));
  OK(mmsb_tick(bus, NULL));
  const void* data = NULL;
  OK(mmsb_page_data(bus, id, &data));
  const unsigned char* bytes = (const unsigned char*)data;
  CHECK(bytes && bytes[0] == 1 && bytes[1023] == 1 && bytes[1] == 0);
  mmsb_close(bus);
}

/* A page created and then only checkpointed, or only ticked with nothing queued, survives a
 * reopen with its initial value: creating a page is committed by the next tick or checkpoint. */
static void new_pages_are_durable(const char* root)
{
  const char* ways[] = {"checkpoint", "tick"};
  for (int w = 0; w < 2; ++w) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/new-pages-%s", root, ways[w]);
    mmsb_bus* bus = NULL;
    OK(mmsb_open(dir, "plus_times<f64>", 256, 0, &bus));
    if (!bus) return;
    const double initial = 2.5;
    uint32_t a = 0, b = 0;
    OK(mmsb_create_page(bus, NULL, &a));
    OK(mmsb_create_page(bus, &initial, &b));
    const uint32_t slot = 7;
    const double one = 1.0;
    OK(mmsb_push_sparse(bus, a, MMSB_ACCUMULATE, &slot, &one, 1));  /* queued, never ticked */
    uint64_t before = 0, after = 0, hash = 0;
    OK(mmsb_epoch(bus, &before));
    if (w == 0) {
      OK(mmsb_checkpoint(bus));
    } else {
      OK(mmsb_discard(bus));
      OK(mmsb_tick(bus, &after));
      CHECK(after == before + 1);  /* the creations are an epoch of their own */
    }
    OK(mmsb_state_hash(bus, &hash));
    mmsb_close(bus);
    bus = NULL;
    OK(mmsb_open(dir, NULL, 0, 0, &bus));
    if (!bus) return;
    size_t count = 0;
    uint64_t reopened = 0;
    OK(mmsb_page_count(bus, &count));
    OK(mmsb_state_hash(bus, &reopened));
    CHECK(count == 2);
    CHECK(reopened == hash);
    const double* pb = page_f64(bus, b);
    const double* pa = page_f64(bus, a);
    CHECK(pb && pb[0] == 2.5 && pb[255] == 2.5);
    CHECK(pa && pa[7] == 0.0);  /* the queued change was not ticked, so it is not in the store */
    mmsb_close(bus);
  }
}

/* Reads (or, with flip, damages one byte of) the log's only segment in dir/log: returns its size,
 * 0 if there is none; copies up to cap bytes into out when out is not NULL. */
static size_t segment_bytes(const char* dir, unsigned char* out, size_t cap, long flip_at)
{
  char logdir[512], path[1024];
  snprintf(logdir, sizeof logdir, "%s/log", dir);
  DIR* d = opendir(logdir);
  if (!d) return 0;
  path[0] = '\0';
  for (struct dirent* e; (e = readdir(d)) != NULL;)
    if (strstr(e->d_name, ".seg")) snprintf(path, sizeof path, "%s/%s", logdir, e->d_name);
  closedir(d);
  FILE* f = fopen(path, "r+b");
  if (!f) return 0;
  size_t n = 0;
  if (out) n = fread(out, 1, cap, f);
  if (flip_at >= 0 && fseek(f, flip_at, SEEK_SET) == 0) {
    const int c = fgetc(f);
    fseek(f, flip_at, SEEK_SET);
    fputc(c ^ 0x5a, f);
  }
  fseek(f, 0, SEEK_END);
  n = (size_t)ftell(f);
  fclose(f);
  return n;
}

/* A log damaged in the middle (valid ticks after the damage): refused by default with the files
 * untouched; MMSB_OPEN_POINT_IN_TIME opens the prefix and mmsb_recovery counts the lost ticks;
 * the bus then ticks on, and a plain open afterwards accepts the store. */
static void damaged_log(const char* root)
{
  char dir[512];
  snprintf(dir, sizeof dir, "%s/damaged", root);
  mmsb_bus* bus = NULL;
  OK(mmsb_open(dir, "plus_times<f64>", 256, 0, &bus));
  if (!bus) return;
  uint64_t lost = 99, epoch = 0;
  const char* report = NULL;
  OK(mmsb_recovery(bus, &lost, &report));
  CHECK(lost == 0 && report != NULL && strstr(report, "LOST") == NULL);
  uint32_t page = 0;
  OK(mmsb_create_page(bus, NULL, &page));
  for (uint32_t k = 0; k < 10; ++k) {
    const double v = 1.0 + k;
    OK(mmsb_push_sparse(bus, page, MMSB_ACCUMULATE, &k, &v, 1));
    OK(mmsb_tick(bus, &epoch));
  }
  CHECK(epoch == 10);
  mmsb_close(bus);

  static unsigned char before[1 << 16], after[1 << 16];
  const size_t size = segment_bytes(dir, NULL, 0, -1);
  CHECK(size > 0 && size < sizeof before);
  segment_bytes(dir, NULL, 0, (long)(size / 2));  /* inside a tick's record, whole ticks after it */
  CHECK(segment_bytes(dir, before, sizeof before, -1) == size);

  bus = NULL;
  FAILS(mmsb_open(dir, NULL, 0, 0, &bus), MMSB_E_CORRUPT, "follow");
  CHECK(bus == NULL && strstr(mmsb_last_error(), ".seg") != NULL);
  CHECK(segment_bytes(dir, after, sizeof after, -1) == size && memcmp(before, after, size) == 0);

  OK(mmsb_open(dir, NULL, 0, MMSB_OPEN_POINT_IN_TIME, &bus));
  if (!bus) return;
  OK(mmsb_epoch(bus, &epoch));
  OK(mmsb_recovery(bus, &lost, &report));
  CHECK(epoch >= 1 && epoch < 10 && epoch + lost == 10);
  CHECK(report != NULL && strstr(report, "LOST") != NULL);
  const uint32_t slot = 200;
  const double one = 1.0;
  OK(mmsb_push_sparse(bus, page, MMSB_ACCUMULATE, &slot, &one, 1));
  uint64_t next = 0, hash = 0, reopened_hash = 0;
  OK(mmsb_tick(bus, &next));
  CHECK(next == epoch + 1);
  OK(mmsb_state_hash(bus, &hash));
  mmsb_close(bus);

  bus = NULL;
  OK(mmsb_open(dir, NULL, 0, 0, &bus));  /* the recovered session resumed the log: nothing lost now */
  if (!bus) return;
  OK(mmsb_epoch(bus, &epoch));
  OK(mmsb_recovery(bus, &lost, NULL));
  OK(mmsb_state_hash(bus, &reopened_hash));
  CHECK(epoch == next && lost == 0 && reopened_hash == hash);
  FAILS(mmsb_recovery(NULL, &lost, NULL), MMSB_E_INVALID_ARGUMENT, "bus is NULL");
  mmsb_bus* other = NULL;
  FAILS(mmsb_open(dir, NULL, 0, 4u, &other), MMSB_E_INVALID_ARGUMENT, "unknown flags 4");
  CHECK(other == NULL);
  mmsb_close(bus);
}

int main(void)
{
  char root[] = "/tmp/mmsb-c-abi-XXXXXX";
  if (!mkdtemp(root)) {
    perror("mkdtemp");
    return 1;
  }
  char dir[512];
  snprintf(dir, sizeof dir, "%s/bus", root);

  instances();
  uint64_t h1 = 0;
  const uint64_t h2 = first_session(dir, &h1);
  second_session(dir, h1, h2);
  open_errors(root);
  boolean_bus(root);
  new_pages_are_durable(root);
  damaged_log(root);

  nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c/abi: all checks passed (state hash %016llx)\n", (unsigned long long)h2);
  return 0;
}
