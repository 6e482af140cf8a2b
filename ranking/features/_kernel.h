/* The shared declarations of the feature kernel's two parts: ``_kernel_tables.c`` (the
 * arrays of one snapshot, checked once at load) and ``_kernel_request.c`` (one request's
 * matrix from them). See _kernel_tables.c for what the kernel does. */
#ifndef SEARCHOP_KERNEL_H
#define SEARCHOP_KERNEL_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef enum { F64, I64 } Kind;

typedef struct {
    const char *name;
    Kind kind;
    int ndim;
} Spec;

enum {
    PRODUCT_VALUES, PRODUCT_COLUMNS, CATALOG_POSITIONS, QP_VALUES, QP_COLUMNS,
    POST_START, POST_ROWS, POST_WEIGHTS,
    PRODUCT_CATEGORY, PRODUCT_BAND, PRODUCT_REL_PRICE,
    USER_CATEGORY_START, USER_CATEGORY_CODES, USER_CATEGORY_LIFTS,
    USER_BAND_START, USER_BAND_KEYS, USER_BAND_LIFTS,
    USER_CATEGORY_OTHER, USER_BAND_OTHER, USER_PRICE, USER_ENGAGEMENT,
    TEXT_PLACE, TEXT_DEFAULTS, USER_PLACE, USER_DEFAULTS, TEXT_LAYOUT, USER_LAYOUT,
    NUM_ARRAYS
};

typedef struct {
    Py_buffer view;
    int held;
    Py_ssize_t rows, cols;
} Array;

#define F(t, i) ((double *)(t)->a[i].view.buf)
#define I(t, i) ((int64_t *)(t)->a[i].view.buf)
#define ROWS(t, i) ((t)->a[i].rows)
#define COLS(t, i) ((t)->a[i].cols)

typedef struct {
    PyObject_HEAD
    Array a[NUM_ARRAYS];
    PyObject *titles; /* list of str: each catalog product's " normalised title " */
    Py_ssize_t products, categories, bands, width, weights, text_width, user_width;
} Tables;

int array_get(PyObject *obj, const char *name, Kind kind, int ndim, int writable, Array *out);
void array_release(Array *array);
int check_range(const int64_t *values, Py_ssize_t n, int64_t low, int64_t high, const char *name);
PyObject *tables_fill(Tables *self, PyObject *args);
PyObject *tables_missing(Tables *self, PyObject *args);

#endif
