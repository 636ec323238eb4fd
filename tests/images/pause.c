/* crimp's pause: the process that holds a pod's namespaces open.
 *
 * It does nothing but wait for SIGTERM/SIGINT and reap zombies, so that a
 * pod whose containers share its PID namespace does not fill up with
 * defunct processes.  Built static so the image is this one file.  */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void) sig;
    stop_requested = 1;
}

static void on_child(int sig)
{
    (void) sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v') {
        puts("crimp-pause 1.0");
        return 0;
    }
    struct sigaction stop = {.sa_handler = on_stop};
    struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGCHLD, &child, NULL);
    if (getpid() != 1)
        fprintf(stderr, "crimp-pause: not running as PID 1, reaping anyway\n");
    while (!stop_requested)
        pause();
    return 0;
}
