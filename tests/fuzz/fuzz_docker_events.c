/* libFuzzer target for Docker's /events stream as crimp follows it
 * (backends/docker/events.c and inventory.c): the input is the byte
 * stream, fed to the line splitter in chunks whose size the first byte
 * picks; each line is parsed as JSON and decoded as a container event.  */
#include <stdint.h>
#include <string.h>

#include "docker/docker-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool on_line(void *ctx, char *line)
{
    size_t *lines = ctx;
    if (strchr(line, '\n') != NULL)
        __builtin_trap();
    json_auto_t *e = json_loads(line, 0, NULL);
    struct docker_event ev;
    if (e != NULL && docker_event_decode(e, &ev) == 0 && (ev.id == NULL || ev.pod == NULL))
        __builtin_trap();
    return ++*lines < 10000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct docker_lines l = {0};
    size_t lines = 0;
    for (size_t off = 0; off < size; off += chunk)
        if (!docker_lines_feed(&l, (const char *)data + off,
                               off + chunk <= size ? chunk : size - off, on_line, &lines))
            break;
    docker_lines_release(&l);
    return 0;
}
