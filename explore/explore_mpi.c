/* `floe explore` over MPI (explore/explore_mpi.h). Messages to rank 0 carry one tag: "R<line>" a
 * finished point's journal line, "D" a rank's share of the phase done; MPI keeps their order per
 * sender, so a rank's lines arrive before its "D". */
#include "explore/explore_mpi.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef FLOE_HAVE_MPI
#include <mpi.h>

#define TAG 17

static int mpi_fail(floe_err *err, const char *what, int code)
{
    char msg[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(code, msg, &n);
    return floe_err_set(err, "MPI: %s: %.*s", what, n, msg);
}

static int send_text(const char *kind, const char *line, floe_err *err)
{
    size_t n = strlen(line);
    char *b = malloc(n + 2);
    if (!b)
        return floe_err_set(err, "out of memory");
    b[0] = kind[0];
    memcpy(b + 1, line, n + 1);
    int rc = MPI_Send(b, (int)(n + 2), MPI_CHAR, 0, TAG, MPI_COMM_WORLD);
    free(b);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "send", rc);
}

static int send_row(void *ctx, const char *line, floe_err *err)
{
    (void)ctx;
    return send_text("R", line, err);
}

static int send_done(void *ctx, floe_err *err)
{
    (void)ctx;
    return send_text("D", "", err);
}

static int receive(void *ctx, int wait_ms, void (*on_line)(void *arg, const char *line), void *arg, int *done,
                   floe_err *err)
{
    (void)ctx;
    double until = MPI_Wtime() + wait_ms / 1000.0;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, TAG, MPI_COMM_WORLD, &flag, &st);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, "probe", rc);
        if (!flag) {
            if (MPI_Wtime() >= until)
                return 0;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int n = 0;
        MPI_Get_count(&st, MPI_CHAR, &n);
        char *b = malloc(n > 0 ? (size_t)n : 1);
        if (!b)
            return floe_err_set(err, "out of memory");
        rc = MPI_Recv(b, n, MPI_CHAR, st.MPI_SOURCE, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            free(b);
            return mpi_fail(err, "receive", rc);
        }
        if (n >= 2 && b[n - 1] == '\0' && b[0] == 'R')
            on_line(arg, b + 1);
        else if (n >= 2 && b[0] == 'D')
            (*done)++;
        free(b);
        until = MPI_Wtime(); /* drain what is there, then return */
    }
}

static int broadcast(void *ctx, char **buf, size_t *len, floe_err *err)
{
    (void)ctx;
    unsigned long long n = *len;
    int rank, rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "broadcast", rc);
    if (n > (1ull << 31))
        return floe_err_set(err, "MPI: a phase message of %llu bytes", n);
    if (rank != 0) {
        free(*buf);
        if (!(*buf = malloc(n ? (size_t)n : 1)))
            return floe_err_set(err, "out of memory");
        *len = (size_t)n;
    }
    rc = MPI_Bcast(*buf, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "broadcast", rc);
}

int floe_explore_mpi_available(void) { return 1; }

int floe_explore_mpi_init(int *argc, char ***argv, floe_explore_transport *t, floe_err *err)
{
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "init", rc);
    MPI_Comm_rank(MPI_COMM_WORLD, &t->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &t->size);
    t->ctx = NULL;
    t->send_row = send_row;
    t->send_done = send_done;
    t->receive = receive;
    t->broadcast = broadcast;
    return 0;
}

void floe_explore_mpi_finish(floe_explore_transport *t)
{
    (void)t;
    MPI_Finalize();
}

#else

int floe_explore_mpi_available(void) { return 0; }

int floe_explore_mpi_init(int *argc, char ***argv, floe_explore_transport *t, floe_err *err)
{
    (void)argc, (void)argv, (void)t;
    return floe_err_set(err, "this floe was built without MPI (install libopenmpi-dev and rebuild)");
}

void floe_explore_mpi_finish(floe_explore_transport *t) { (void)t; }

#endif

/* Open MPI's launcher sets these in every rank's environment. */
int floe_explore_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL || getenv("PMI_RANK") != NULL;
}
