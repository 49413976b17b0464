#include "tests/test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/path.h"

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_write_and_read_back(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("atomic_write");
    char path[4200];
    floe_path_join(path, sizeof path, dir, "a.bin");
    floe_err err;
    assert_int_equal(floe_write_file_atomic(path, "hello", 5, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 1 << 20, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    assert_int_equal(data[5], '\0');
    free(data);
    assert_int_equal(count_entries(dir), 1); /* no temporary left behind */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(022);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0666 & ~mask); /* an ordinary file, not mkstemp's 0600 */
}

static void test_abort_keeps_old_file(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("atomic_abort");
    char path[4200];
    floe_path_join(path, sizeof path, dir, "a.txt");
    floe_err err;
    assert_int_equal(floe_write_file_atomic(path, "old", 3, &err), 0);
    floe_afile af;
    assert_int_equal(floe_afile_open(&af, path, &err), 0);
    fputs("new but unfinished", af.fp);
    floe_afile_abort(&af);
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 100, &data, &len, &err), 0);
    assert_string_equal(data, "old");
    free(data);
    assert_int_equal(count_entries(dir), 1);
}

static void test_errors_name_the_file(void **state)
{
    (void)state;
    floe_err err;
    assert_int_equal(floe_write_file_atomic("/nonexistent-dir/x.bin", "a", 1, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.bin"));
    char *data;
    size_t len;
    assert_int_equal(floe_read_file("/nonexistent-dir/y.bin", 10, &data, &len, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/y.bin"));
    assert_null(data);
}

static void test_read_limit(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("atomic_limit");
    char path[4200];
    floe_path_join(path, sizeof path, dir, "big");
    char buf[1000] = {0};
    floe_err err;
    assert_int_equal(floe_write_file_atomic(path, buf, sizeof buf, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 999, &data, &len, &err), -1);
    assert_non_null(strstr(err.msg, "limit"));
    assert_int_equal(floe_read_file(path, 1000, &data, &len, &err), 0);
    assert_int_equal(len, 1000);
    free(data);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("mkdir_p");
    char path[4200];
    floe_path_join(path, sizeof path, dir, "a/b/c");
    floe_err err;
    assert_int_equal(floe_mkdir_p(path, &err), 0);
    assert_int_equal(floe_mkdir_p(path, &err), 0); /* idempotent */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    char file[4300];
    floe_path_join(file, sizeof file, dir, "f");
    assert_int_equal(floe_write_file_atomic(file, "x", 1, &err), 0);
    floe_path_join(path, sizeof path, file, "sub");
    assert_int_equal(floe_mkdir_p(path, &err), -1);
}

/* A killed writer's temporaries (unlocked) go at the next write into their folder, whatever their
 * name; a live writer's (locked) and files without the marker stay. */
static void test_stale_temporaries_removed(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("atomic_stale");
    char path[4200], stale[4300], other[4300], user[4300];
    floe_path_join(path, sizeof path, dir, "a.bin");
    snprintf(stale, sizeof stale, "%s" FLOE_TMP_MARK "Ab3xYz", path);
    snprintf(other, sizeof other, "%s/b.bin" FLOE_TMP_MARK "Ab3xYz", dir);
    snprintf(user, sizeof user, "%s/notes.tmp.Ab3xYz", dir);
    floe_err err;
    const char *plain[3] = {stale, other, user}; /* as a killed writer leaves them: plain files */
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(plain[i], "wb");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
    }
    assert_int_equal(count_entries(dir), 3);

    floe_afile live;
    assert_int_equal(floe_afile_open(&live, path, &err), 0); /* removes both stale ones */
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(count_entries(dir), 2); /* the live temporary and the user's file */
    fputs("live", live.fp);
    assert_int_equal(floe_write_file_atomic(path, "second", 6, &err), 0); /* leaves the live one */
    assert_int_equal(count_entries(dir), 3); /* a.bin, the live temporary, the user's file */
    assert_int_equal(floe_afile_commit(&live, &err), 0);
    assert_int_equal(count_entries(dir), 2); /* a.bin and the user's file */
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 100, &data, &len, &err), 0);
    assert_string_equal(data, "live");
    free(data);
    assert_int_equal(access(user, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_abort_keeps_old_file),
        cmocka_unit_test(test_stale_temporaries_removed),
        cmocka_unit_test(test_errors_name_the_file),
        cmocka_unit_test(test_read_limit),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
