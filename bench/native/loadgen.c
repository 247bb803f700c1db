/*
 * The native load generator: one thread, epoll, non-blocking sockets. It exists because a Node
 * load generator saturates its own core at 100 connections of small messages, so the rate it
 * reports is its own limit, not the server's. Compiled at bench time with the system's cc
 * (bench/native.ts) and driven by bench/loadgen.ts over stdin/stdout.
 *
 *   loadgen-native MODE PORT CONNS SIZE INFLIGHT
 *     MODE stream: each connection keeps up to INFLIGHT bytes of SIZE-byte writes in flight and
 *                  counts the echoed bytes.
 *     MODE rr:     each connection sends SIZE bytes, waits until SIZE bytes came back, repeats;
 *                  counts round trips and records their latency.
 *     MODE ws:     like rr over WebSocket: an upgrade first, then one masked binary frame of SIZE
 *                  bytes per round trip; a round trip ends with the server's final frame of a
 *                  data message (control frames are skipped).
 *
 * It prints "ready" once every connection is up (and upgraded). Each "mark" line on stdin is
 * answered with one line: count errors t_ms cpu_ms p50_ms p99_ms (latency percentiles of the
 * round trips since the previous mark; -1 when none). "stop" or end of input: exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { STREAM, RR, WS };

struct conn {
  int fd;
  int upgraded;          /* ws: the 101 answer was read */
  size_t head_seen;      /* ws: see on_readable */
  uint64_t sent, received;
  size_t out_off;        /* bytes of the current request already written */
  int want_out;          /* EPOLLOUT registered */
  int waiting;           /* rr/ws: a request is out, its answer not complete */
  double t0;             /* rr/ws: when the request started */
  /* ws frame parser */
  unsigned char hdr[14];
  int hdr_have, hdr_need;
  uint64_t payload_left;
  int frame_fin, frame_data;
};

static enum mode mode;
static int nconns;
static size_t size, inflight;
static unsigned char *request;  /* what one request writes */
static size_t request_len;
static uint64_t count, errors;
static double *lat;
static size_t nlat, caplat;
static int epfd;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void record(double ms) {
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 65536;
    lat = realloc(lat, caplat * sizeof *lat);
    if (!lat) { perror("realloc"); exit(1); }
  }
  lat[nlat++] = ms;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void fail(struct conn *c) {
  if (c->fd < 0) return;
  errors++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
}

static void want_out(struct conn *c, int on) {
  if (c->want_out == on || c->fd < 0) return;
  struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = on;
}

/* Writes what it may: the rest of the current request, then (stream) more while in flight allows. */
static void pump(struct conn *c) {
  for (;;) {
    if (c->out_off == 0) {
      if (mode == STREAM) {
        if (c->sent - c->received + request_len > inflight) break;
      } else if (c->waiting) break;
      else {
        c->waiting = 1;
        c->t0 = now_ms();
      }
    }
    ssize_t n = send(c->fd, request + c->out_off, request_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) { want_out(c, 1); return; }
      fail(c);
      return;
    }
    c->out_off += (size_t)n;
    c->sent += (uint64_t)n;
    if (c->out_off < request_len) { want_out(c, 1); return; }
    c->out_off = 0;
  }
  want_out(c, 0);
}

static void round_trip_done(struct conn *c) {
  c->waiting = 0;
  count++;
  record(now_ms() - c->t0);
}

/* ws: consumes server frames from buf; a final data frame ends the round trip. */
static void ws_parse(struct conn *c, const unsigned char *p, size_t n) {
  while (n > 0) {
    if (c->payload_left > 0) {
      size_t k = n < c->payload_left ? n : (size_t)c->payload_left;
      c->payload_left -= k;
      p += k;
      n -= k;
      if (c->payload_left == 0 && c->frame_fin && c->frame_data) round_trip_done(c);
      continue;
    }
    c->hdr[c->hdr_have++] = *p++;
    n--;
    if (c->hdr_have == 2) {
      int len7 = c->hdr[1] & 0x7f;
      c->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
    }
    if (c->hdr_have >= 2 && c->hdr_have == c->hdr_need) {
      int len7 = c->hdr[1] & 0x7f;
      uint64_t len = len7;
      if (len7 == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
      else if (len7 == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = (len << 8) | c->hdr[i];
      }
      int opcode = c->hdr[0] & 0x0f;
      c->frame_fin = (c->hdr[0] & 0x80) != 0;
      c->frame_data = opcode < 8;
      c->hdr_have = 0;
      c->hdr_need = 2;
      c->payload_left = len;
      if (len == 0 && c->frame_fin && c->frame_data) round_trip_done(c);
    }
  }
}

static unsigned char rbuf[1 << 18];

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail(c);
      return;
    }
    if (n == 0) { fail(c); return; }
    const unsigned char *p = rbuf;
    size_t len = (size_t)n;
    if (mode == WS && !c->upgraded) {
      /* The answer's first line must say 101 (checked at its first byte); its head ends with
         CRLF CRLF. head_seen: 0 before the first byte, else 1 + the bytes of CRLF CRLF matched. */
      if (c->head_seen == 0) {
        if (len < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) { fail(c); return; }
        c->head_seen = 1;
      }
      static const char end[] = "\r\n\r\n";
      size_t i = 0;
      while (i < len && !c->upgraded) {
        size_t k = c->head_seen - 1;
        k = p[i++] == (unsigned char)end[k] ? k + 1 : p[i - 1] == '\r' ? 1 : 0;
        c->head_seen = 1 + k;
        if (k == 4) c->upgraded = 1;
      }
      if (!c->upgraded) continue;
      p += i;
      len -= i;
      c->received = 0;
      count++; /* one more connection ready (the count restarts at zero before the load) */
    }
    c->received += len;
    if (mode == STREAM) count += len;
    else if (mode == RR) {
      /* whole answers only; a request goes out when the previous answer is complete */
      while (c->waiting && c->received >= size) {
        c->received -= size;
        round_trip_done(c);
      }
    } else if (len) ws_parse(c, p, len);
    if (c->fd >= 0) pump(c);
  }
}

static int connect_one(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { perror("socket"); exit(1); }
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* The ws request: one masked binary frame of `size` bytes (a fixed key: the server must unmask). */
static void build_ws_frame(void) {
  size_t h = 2 + (size > 65535 ? 8 : size > 125 ? 2 : 0) + 4;
  request_len = h + size;
  request = malloc(request_len);
  unsigned char *q = request;
  *q++ = 0x82;
  if (size > 65535) {
    *q++ = 0x80 | 127;
    for (int i = 7; i >= 0; i--) *q++ = (unsigned char)((uint64_t)size >> (8 * i));
  } else if (size > 125) {
    *q++ = 0x80 | 126;
    *q++ = (unsigned char)(size >> 8);
    *q++ = (unsigned char)size;
  } else *q++ = 0x80 | (unsigned char)size;
  static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
  memcpy(q, key, 4);
  q += 4;
  for (size_t i = 0; i < size; i++) q[i] = (unsigned char)('d' ^ key[i & 3]);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s stream|rr|ws PORT CONNS SIZE INFLIGHT\n", argv[0]);
    return 2;
  }
  mode = strcmp(argv[1], "stream") == 0 ? STREAM : strcmp(argv[1], "rr") == 0 ? RR : WS;
  int port = atoi(argv[2]);
  nconns = atoi(argv[3]);
  size = (size_t)atol(argv[4]);
  inflight = (size_t)atol(argv[5]);
  if (mode == WS) build_ws_frame();
  else {
    request_len = size;
    request = malloc(size);
    memset(request, mode == STREAM ? 'a' : 'b', size);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  epfd = epoll_create1(0);
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  for (int i = 0; i < nconns; i++) {
    struct conn *c = &conns[i];
    c->fd = connect_one(port);
    c->hdr_need = 2;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    if (mode == WS) {
      static const char up[] =
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      if (send(c->fd, up, sizeof up - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof up - 1)) { perror("upgrade"); return 1; }
    }
  }
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);

  /* ws: wait for every upgrade before any load */
  if (mode == WS) {
    struct epoll_event evs[256];
    double deadline = now_ms() + 20000;
    while (count < (uint64_t)nconns) {
      if (now_ms() > deadline || errors) { fprintf(stderr, "loadgen-native: %llu of %d upgraded, %llu errors\n", (unsigned long long)count, nconns, (unsigned long long)errors); return 1; }
      int n = epoll_wait(epfd, evs, 256, 100);
      for (int i = 0; i < n; i++)
        if (evs[i].data.ptr) on_readable(evs[i].data.ptr);
    }
    count = 0;
  }
  printf("ready\n");
  for (int i = 0; i < nconns; i++) pump(&conns[i]);

  char line[256];
  size_t have = 0;
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) {
        ssize_t k = read(0, line + have, sizeof line - 1 - have);
        if (k == 0) return 0;
        if (k < 0) continue;
        have += (size_t)k;
        line[have] = 0;
        char *nl;
        while ((nl = strchr(line, '\n'))) {
          *nl = 0;
          if (strcmp(line, "stop") == 0) return 0;
          if (strcmp(line, "mark") == 0) {
            double p50 = -1, p99 = -1;
            if (nlat) {
              qsort(lat, nlat, sizeof *lat, cmp);
              p50 = lat[nlat / 2];
              p99 = lat[nlat * 99 / 100 < nlat ? nlat * 99 / 100 : nlat - 1];
            }
            nlat = 0;
            printf("%llu %llu %.3f %.3f %.4f %.4f\n", (unsigned long long)count, (unsigned long long)errors, now_ms(), cpu_ms(), p50, p99);
          }
          size_t used = (size_t)(nl - line) + 1;
          memmove(line, nl + 1, have - used + 1);
          have -= used;
        }
        continue;
      }
      if (c->fd < 0) continue;
      if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) { fail(c); continue; }
      if (evs[i].events & EPOLLIN) on_readable(c);
      if (c->fd >= 0 && (evs[i].events & EPOLLOUT)) pump(c);
    }
  }
}
