/*
 * LD_PRELOAD shim for test/helpers/kafka-mock.py, so a mock Kafka cluster can be restarted
 * after kill -9 on the ports the hub nodes know.
 *
 * librdkafka's mock cluster (2.0.2, rd_kafka_mock_broker_new) binds each mock broker's
 * listener to 127.0.0.1 port 0 and has no property or API to choose the port. With
 * KAFKA_MOCK_PORTS="p1,p2,..." in the environment, the n-th bind() of an IPv4 socket to
 * 127.0.0.1:0 in this process binds 127.0.0.1:p<n> instead (brokers are created in id
 * order, so broker 1 gets p1). Any other bind(), and every bind() without the variable,
 * passes through unchanged. The mock sets SO_REUSEADDR on its listeners, so the port is free
 * again as soon as the killed process is gone, even with its connections still closing.
 *
 * Built by startKafkaMock (test/helpers/processes.ts) with the machine's `cc`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static int next_port;

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  bind_fn real = (bind_fn)dlsym(RTLD_NEXT, "bind");
  const char *ports = getenv("KAFKA_MOCK_PORTS");
  if (ports && addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    if (in->sin_port == 0 && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
      int n = __atomic_fetch_add(&next_port, 1, __ATOMIC_SEQ_CST);
      const char *p = ports;
      for (int i = 0; i < n && p; i++) {
        p = strchr(p, ',');
        if (p) p++;
      }
      int port = p ? atoi(p) : 0;
      if (port > 0 && port < 65536) {
        struct sockaddr_in fixed = *in;
        fixed.sin_port = htons((unsigned short)port);
        return real(fd, (const struct sockaddr *)&fixed, sizeof fixed);
      }
    }
  }
  return real(fd, addr, len);
}
