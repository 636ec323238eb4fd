/* Per-object state files under crimpd's state dir, for what a backend must
 * remember across a crimpd restart or after its runtime forgot (a pod's CNI
 * result for DEL once the pause container died, its port mappings).
 *
 * Each file is {"version": 1, "data": {...}, "checksum": N}, written
 * atomically (temporary file, fsync, rename, fsync of the directory), so a
 * crash leaves the old or the new file, never a torn one.  */
#ifndef CRIMP_CHECKPOINT_H
#define CRIMP_CHECKPOINT_H

#include <jansson.h>

#include "error.h"

/* Creates DIR and its missing parents with MODE (existing ones are left
 * as they are).  */
int crimp_mkdir_p(const char *dir, unsigned mode, crimp_error_t *err);

/* Writes TEXT as DIR/NAME atomically: a temporary DIR/.NAME.tmp, fsync,
 * rename, fsync of DIR (created, mode 0700, when missing).  NAME is one
 * path component.  */
int crimp_file_write_atomic(const char *dir, const char *name, const char *text,
                            crimp_error_t *err);

/* Writes DATA as DIR/ID (DIR is created).  */
int crimp_checkpoint_write(const char *dir, const char *id, json_t *data, crimp_error_t *err);

/* Reads DIR/ID into *DATA (new reference).  NOT_FOUND when there is none;
 * DATA_LOSS when it is corrupt, in which case it is quarantined (below).
 * A file that cannot be read (EMFILE, ENOMEM, EIO...) is tried a few times,
 * then the errno's error comes back and the file stays as it is.  */
int crimp_checkpoint_read(const char *dir, const char *id, json_t **data, crimp_error_t *err);

/* Renames DIR/ID to DIR/ID.corrupt-<unix time>, kept for inspection and
 * never listed, and logs it; a missing file is success.  */
int crimp_checkpoint_quarantine(const char *dir, const char *id, crimp_error_t *err);

/* Removes DIR/ID; a missing file is success.  */
int crimp_checkpoint_remove(const char *dir, const char *id, crimp_error_t *err);

/* Removes the temporary files of writes a killed crimpd left half done in
 * DIR (crimp_file_write_atomic's ".NAME.tmp"; the checkpoint they were to
 * replace is intact).  Only at start, before anything writes to DIR.  */
void crimp_checkpoint_sweep_temps(const char *dir);

/* Calls FN for the id of every checkpoint in DIR (none if DIR is missing;
 * quarantined files are not checkpoints).  */
int crimp_checkpoint_list(const char *dir, void (*fn)(void *ctx, const char *id), void *ctx,
                          crimp_error_t *err);

/* FNV-1a over the compact, key-sorted JSON of DATA.  */
uint32_t crimp_checkpoint_checksum(json_t *data);

#endif
