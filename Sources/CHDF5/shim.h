// HDF5's constants are macros Swift cannot import (casts, or globals that need H5open first).
// Each is exposed here as a small inline function.
#pragma once
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hid_t chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hsize_t chdf5_s_unlimited(void) { return H5S_UNLIMITED; }

static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t chdf5_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_std_ref_obj(void) { return H5T_STD_REF_OBJ; }
static inline hid_t chdf5_std_ref_dsetreg(void) { return H5T_STD_REF_DSETREG; }

// Silence HDF5's automatic error printing (pages of traces on stderr); errors become Swift errors.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// The message of the innermost entry of the current error stack, or an empty string, and the operating system's
// error number if any entry reports one (the file drivers write "... errno = 28, error message = '...'"), else 0:
// the cause a user needs ("No space left on device", "File too large", "Read-only file system").
typedef struct { char text[512]; int sys_errno; } chdf5_message;
static herr_t chdf5_walk_cb(unsigned n, const H5E_error2_t *err, void *data) {
    chdf5_message *m = (chdf5_message *)data;
    if (n == 0 && err && err->desc) {
        snprintf(m->text, sizeof(m->text), "%s", err->desc);
    }
    if (m->sys_errno == 0 && err && err->desc) {
        const char *e = strstr(err->desc, "errno = ");
        if (e) m->sys_errno = atoi(e + 8);
    }
    return 0;
}
static inline chdf5_message chdf5_last_error(void) {
    chdf5_message m; m.text[0] = 0; m.sys_errno = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, chdf5_walk_cb, &m);
    H5Eclear2(H5E_DEFAULT);
    return m;
}
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }

// A link access property list that refuses to follow external links: they lead to other files, and opening one
// that is a FIFO blocks forever. Readers that resolve soft links (which may pass through an external link) use it.
static herr_t chdf5_refuse_external_link(const char *parent_file, const char *parent_group, const char *child_file,
                                         const char *child_object, unsigned *flags, hid_t fapl, void *data) {
    return -1;
}
static inline hid_t chdf5_lapl_without_external_links(void) {
    hid_t lapl = H5Pcreate(H5P_LINK_ACCESS);
    if (lapl >= 0) H5Pset_elink_cb(lapl, chdf5_refuse_external_link, NULL);
    return lapl;
}
