/* Probe of the oom_score_adj floor.  */
#include "oom.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_own(void)
{
    char buf[16] = "";
    int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? atoi(buf) : 0;
}

static int write_own(int value)
{
    char buf[16];
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int len = snprintf(buf, sizeof(buf), "%d", value);
    ssize_t n = write(fd, buf, (size_t)len);
    close(fd);
    return n == len ? 0 : -1;
}

static int floor_value;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    int current = read_own();
    if (write_own(-1000) == 0) {
        floor_value = -1000;
        /* Raising back is always allowed.  */
        write_own(current);
    } else {
        floor_value = current;
    }
}

int crimp_oom_score_adj_floor(void)
{
    pthread_once(&once, probe);
    return floor_value;
}
