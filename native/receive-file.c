/*
 * kftpd's native upload receiver: moves the bytes of one plain FTP upload from the data
 * connection to the file in a thread of its own, with blocking-style read(2)/write(2) and no
 * JavaScript per chunk; what vsftpd and Pure-FTPd do in their per-session process.
 *
 * Why: on Node the JS path reads every socket chunk on the main thread and hands each batch
 * to the thread pool for the write; the round trips between the two cap a plain upload near
 * 1.1 GB/s on one core where the C servers write 1.9 GB/s (README, Performance). One thread
 * per upload, not the libuv thread pool: an upload lasts as long as the client sends, and a
 * stalled one must never hold a pool thread that every other session's file calls need.
 *
 * Contract (src/data/native-receive.ts is the only caller):
 *   start(socketFd, fileFd, position, done) -> job
 *     The fds are duplicated here, so the caller may close its own at any time; nothing is
 *     read from the socket by anybody else while the job runs (the caller stopped libuv's
 *     reading). position >= 0: pwrite from there; -1: write(2) (an O_APPEND file).
 *     done(errno, bytes, cancelled, connection) runs once on the main thread, after the
 *     thread has written everything it read and closed its fds: errno 0 and cancelled false
 *     is the client's end of stream (EOF); an errno names the failing call's error, the data
 *     connection's (read, poll: connection true) or the storage's (write).
 *   cancel(job): the thread writes what it holds and stops (ABOR, session end). Not after done.
 *   bytes(job): bytes written to the file so far. Not after done.
 *
 * Everything the thread read before a failure, a reset or a cancel is written first: an
 * interrupted upload keeps what arrived, for REST/APPE to continue (as the JS path does).
 */
#define _GNU_SOURCE
/* Node-API 8 (Node >= 12.22): threadsafe functions and externals; stable across Node majors. */
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* Gathered from the socket before one write: a big upload is a write per MiB. */
#define BUFFER_BYTES (1024 * 1024)
/* The thread runs nothing but this loop; 256 KiB of stack is plenty (and only reserved). */
#define STACK_BYTES (256 * 1024)

typedef struct {
  int socket_fd;
  int file_fd;
  int cancel_fd;
  int64_t position;
  _Atomic int64_t written;
  _Atomic int cancelled;
  /* The client's end of stream was read: the upload is complete. */
  int ended;
  int error;
  /* The error is the data connection's (read, poll), not the file's (write). */
  int connection_error;
  napi_threadsafe_function done;
} job_t;

static void close_fds(job_t *job) {
  if (job->socket_fd >= 0) close(job->socket_fd);
  if (job->file_fd >= 0) close(job->file_fd);
  job->socket_fd = -1;
  job->file_fd = -1;
}

/* Writes all of buffer[0..length); false with job->error set on failure. */
static int write_all(job_t *job, const char *buffer, size_t length) {
  size_t offset = 0;
  while (offset < length) {
    ssize_t n = job->position >= 0 ? pwrite(job->file_fd, buffer + offset, length - offset, job->position)
                                   : write(job->file_fd, buffer + offset, length - offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->error = errno;
      return 0;
    }
    if (n == 0) {
      /* A regular file never takes nothing for something; a full disk reports ENOSPC. */
      job->error = EIO;
      return 0;
    }
    offset += (size_t)n;
    if (job->position >= 0) job->position += n;
    atomic_fetch_add(&job->written, n);
  }
  return 1;
}

/* Waits until the socket has something (data, EOF or an error) or the job is cancelled. */
static int wait_readable(job_t *job) {
  struct pollfd fds[2] = {{.fd = job->socket_fd, .events = POLLIN}, {.fd = job->cancel_fd, .events = POLLIN}};
  for (;;) {
    int ready = poll(fds, 2, -1);
    if (ready >= 0) return fds[1].revents == 0;
    if (errno != EINTR) {
      job->error = errno;
      job->connection_error = 1;
      return 0;
    }
  }
}

static void *receive(void *arg) {
  job_t *job = arg;
  /* mmap, not malloc: glibc would serve it from a per-thread arena that keeps the memory after
   * the thread is gone (and raises its mmap threshold after the first free), so a burst of
   * uploads would leave RSS behind for the idle sessions that follow. */
  char *buffer = mmap(NULL, BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buffer == MAP_FAILED) {
    buffer = NULL;
    job->error = ENOMEM;
  }
  size_t filled = 0;
  while (buffer != NULL && job->error == 0 && !atomic_load(&job->cancelled)) {
    ssize_t n = read(job->socket_fd, buffer + filled, BUFFER_BYTES - filled);
    int read_error = n < 0 ? errno : 0;
    if (read_error == EINTR) continue;
    if (n > 0) {
      filled += (size_t)n;
      /* More may be waiting in the socket: gather it before writing. */
      if (filled < BUFFER_BYTES) continue;
    }
    if (filled > 0) {
      if (!write_all(job, buffer, filled)) break;
      filled = 0;
    }
    if (n > 0) continue;
    if (n == 0) {
      job->ended = 1;
      break;
    }
    if (read_error != EAGAIN && read_error != EWOULDBLOCK) {
      job->error = read_error;
      job->connection_error = 1;
      break;
    }
    if (!wait_readable(job)) break;
  }
  /* Cancelled with bytes gathered: they arrived, so they are kept. */
  if (filled > 0 && job->error == 0) write_all(job, buffer, filled);
  if (buffer != NULL) munmap(buffer, BUFFER_BYTES);
  close_fds(job);
  /* call_done frees the job, possibly before the call below returns: keep the function. */
  napi_threadsafe_function done = job->done;
  napi_call_threadsafe_function(done, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

/* On the main thread: the job's end, handed to JS. The job is freed here. */
static void call_done(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  job_t *job = data;
  if (env != NULL && callback != NULL) {
    napi_value undefined, args[4];
    napi_get_undefined(env, &undefined);
    napi_create_int32(env, job->error, &args[0]);
    napi_create_int64(env, atomic_load(&job->written), &args[1]);
    napi_get_boolean(env, job->error == 0 && !job->ended, &args[2]);
    napi_get_boolean(env, job->connection_error, &args[3]);
    napi_call_function(env, undefined, callback, 4, args, NULL);
  }
  close(job->cancel_fd);
  free(job);
}

static napi_value throw_errno(napi_env env, int error, const char *what) {
  napi_value code, message, object;
  napi_create_int32(env, error, &code);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &object);
  napi_set_named_property(env, object, "errno", code);
  napi_throw(env, object);
  return NULL;
}

static job_t *job_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *job = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  if (napi_get_value_external(env, argv[0], &job) != napi_ok) return NULL;
  return job;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t socket_fd, file_fd;
  int64_t position;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok || napi_get_value_int32(env, argv[1], &file_fd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok) {
    napi_throw_type_error(env, NULL, "start(socketFd, fileFd, position, done)");
    return NULL;
  }
  job_t *job = calloc(1, sizeof(job_t));
  if (job == NULL) return throw_errno(env, ENOMEM, "out of memory");
  job->position = position < 0 ? -1 : position;
  job->socket_fd = fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
  job->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
  job->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int error = job->socket_fd < 0 || job->file_fd < 0 || job->cancel_fd < 0 ? errno : 0;
  napi_value name;
  napi_create_string_utf8(env, "kftpd.receiveFile", NAPI_AUTO_LENGTH, &name);
  if (error == 0 && napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, NULL, call_done, &job->done) != napi_ok) error = EINVAL;
  pthread_attr_t attributes;
  pthread_t thread;
  if (error == 0) {
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, STACK_BYTES);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    /* The thread starts with every signal blocked (it inherits the mask): SIGTERM, SIGINT
     * and SIGHUP go to the event loop's thread, where Node handles them. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    error = pthread_create(&thread, &attributes, receive, job);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attributes);
    if (error != 0) napi_release_threadsafe_function(job->done, napi_tsfn_abort);
  }
  if (error != 0) {
    close_fds(job);
    if (job->cancel_fd >= 0) close(job->cancel_fd);
    free(job);
    return throw_errno(env, error, "could not start the upload thread");
  }
  napi_value external;
  napi_create_external(env, job, NULL, NULL, &external);
  return external;
}

static napi_value cancel(napi_env env, napi_callback_info info) {
  job_t *job = job_of(env, info);
  if (job == NULL) return NULL;
  atomic_store(&job->cancelled, 1);
  uint64_t one = 1;
  ssize_t ignored = write(job->cancel_fd, &one, sizeof one);
  (void)ignored;
  return NULL;
}

static napi_value bytes(napi_env env, napi_callback_info info) {
  job_t *job = job_of(env, info);
  napi_value result;
  napi_create_int64(env, job == NULL ? 0 : atomic_load(&job->written), &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cancel", NULL, cancel, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bytes", NULL, bytes, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 3, properties);
  return exports;
}

NAPI_MODULE(kftpd_native, init)
