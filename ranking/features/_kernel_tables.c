/* The per-request feature kernel of /api/rank (see ranking/features/kernel.py).
 *
 * ``Tables`` holds the arrays prepared once per feature snapshot (stored feature rows,
 * postings of the catalog's text weights, the products' category, price band and relative
 * price, the users' affinities) and the contract's placement of each group's inputs in the
 * matrix; ``Tables.fill`` builds one request's matrix from them in one pass: the look-ups
 * of the candidates, the gathers of the stored features, the text statistics of the query
 * against each candidate and the user inputs, each input placed where the contract says
 * (a NaN takes the feature's default). Every value is computed with the same operations in
 * the same order as the reference builder (ranking/features/matrix.py), so the two agree
 * to the last bit; compiled without FMA contraction for that reason.
 *
 * Every index read from an array or a dict is checked before it is used: a bad snapshot
 * raises ValueError, it never reads outside an array.
 */
#include <string.h>

#include "_kernel.h"

/* --- the arrays of a Tables, by name ------------------------------------------------ */

static const Spec SPECS[NUM_ARRAYS] = {
    {"product_values", F64, 2},   /* (products + 1, product and catalog features); last: defaults */
    {"product_columns", I64, 1},  /* matrix column of each of them */
    {"catalog_positions", I64, 1},/* which of them are catalog attributes (a cold product's own) */
    {"qp_values", F64, 2},        /* (query x product rows + 1, features); last: defaults */
    {"qp_columns", I64, 1},
    {"post_start", I64, 1},       /* per term id, its slice of post_rows: CSR */
    {"post_rows", I64, 1},        /* catalog rows holding the term, ascending within a term */
    {"post_weights", F64, 2},     /* (postings, text weights) */
    {"product_category", I64, 1}, /* category code per catalog row; -1: none */
    {"product_band", I64, 1},     /* price band per catalog row; -1: none */
    {"product_rel_price", F64, 1},
    {"user_category_start", I64, 1}, /* per user index, its slice of the two below: CSR */
    {"user_category_codes", I64, 1},
    {"user_category_lifts", F64, 1},
    {"user_band_start", I64, 1},
    {"user_band_keys", I64, 1},
    {"user_band_lifts", F64, 1},
    {"user_category_other", F64, 1}, /* per user index; NaN: not known */
    {"user_band_other", F64, 1},
    {"user_price", F64, 1},
    {"user_engagement", F64, 1},
    {"text_place", I64, 2},      /* (direct text features, 2): matrix column, input position */
    {"text_defaults", F64, 1},
    {"user_place", I64, 2},
    {"user_defaults", F64, 1},
    {"text_layout", I64, 1},     /* positions: exact, coverage, title coverage, terms, title weight */
    {"user_layout", I64, 1},     /* positions: category lift, band lift, rel price, price mean, engagement */
};

int array_get(PyObject *obj, const char *name, Kind kind, int ndim, int writable, Array *out)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &out->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "%s: a C-contiguous%s array is expected", name,
                     writable ? " writable" : "");
        return -1;
    }
    out->held = 1;
    const char *format = out->view.format ? out->view.format : "B";
    if (format[0] == '<' || format[0] == '=' || format[0] == '@') format++;
    int ok = out->view.itemsize == 8 &&
             (kind == F64 ? strcmp(format, "d") == 0
                          : (strcmp(format, "l") == 0 || strcmp(format, "q") == 0));
    if (!ok || out->view.ndim != ndim) {
        PyErr_Format(PyExc_TypeError, "%s: a %d-d %s array is expected", name, ndim,
                     kind == F64 ? "float64" : "int64");
        return -1;
    }
    out->rows = out->view.shape[0];
    out->cols = ndim == 2 ? out->view.shape[1] : 1;
    return 0;
}

void array_release(Array *array)
{
    if (array->held) {
        PyBuffer_Release(&array->view);
        array->held = 0;
    }
}

static void tables_dealloc(Tables *self)
{
    for (int i = 0; i < NUM_ARRAYS; i++) array_release(&self->a[i]);
    Py_XDECREF(self->titles);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

int check_range(const int64_t *values, Py_ssize_t n, int64_t low, int64_t high, const char *name)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (values[i] < low || values[i] >= high) {
            PyErr_Format(PyExc_ValueError, "%s[%zd] = %lld is outside [%lld, %lld)", name, i,
                         (long long)values[i], (long long)low, (long long)high);
            return -1;
        }
    }
    return 0;
}

static int check_csr(Tables *t, int start, int values, const char *name)
{
    const int64_t *s = I(t, start);
    Py_ssize_t n = ROWS(t, start);
    if (n < 1 || s[0] != 0 || s[n - 1] != ROWS(t, values)) {
        PyErr_Format(PyExc_ValueError, "%s: must start at 0 and end at the number of values", name);
        return -1;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        if (s[i] < s[i - 1]) {
            PyErr_Format(PyExc_ValueError, "%s: must not decrease", name);
            return -1;
        }
    }
    return 0;
}

/* Every shape and every stored index checked once, at load. */
static int tables_check(Tables *t)
{
    Py_ssize_t products = ROWS(t, PRODUCT_VALUES) - 1, users = ROWS(t, USER_CATEGORY_OTHER);
    t->products = products;
    t->weights = COLS(t, POST_WEIGHTS);
    if (products < 0 || ROWS(t, QP_VALUES) < 1) {
        PyErr_SetString(PyExc_ValueError, "product_values and qp_values need their defaults row");
        return -1;
    }
    if (!PyList_Check(t->titles) || PyList_GET_SIZE(t->titles) != products ||
        ROWS(t, PRODUCT_CATEGORY) != products || ROWS(t, PRODUCT_BAND) != products ||
        ROWS(t, PRODUCT_REL_PRICE) != products) {
        PyErr_SetString(PyExc_ValueError, "titles and the per-product arrays need one entry per product");
        return -1;
    }
    for (Py_ssize_t i = 0; i < products; i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(t->titles, i))) {
            PyErr_SetString(PyExc_TypeError, "titles must be str");
            return -1;
        }
    }
    if (ROWS(t, PRODUCT_COLUMNS) != COLS(t, PRODUCT_VALUES) || ROWS(t, QP_COLUMNS) != COLS(t, QP_VALUES) ||
        ROWS(t, POST_ROWS) != ROWS(t, POST_WEIGHTS) || t->weights > 64 ||
        ROWS(t, USER_CATEGORY_START) != users + 1 || ROWS(t, USER_BAND_START) != users + 1 ||
        ROWS(t, USER_CATEGORY_CODES) != ROWS(t, USER_CATEGORY_LIFTS) ||
        ROWS(t, USER_BAND_KEYS) != ROWS(t, USER_BAND_LIFTS) || ROWS(t, USER_BAND_OTHER) != users ||
        ROWS(t, USER_PRICE) != users || ROWS(t, USER_ENGAGEMENT) != users ||
        COLS(t, TEXT_PLACE) != 2 || COLS(t, USER_PLACE) != 2 ||
        ROWS(t, TEXT_DEFAULTS) != ROWS(t, TEXT_PLACE) || ROWS(t, USER_DEFAULTS) != ROWS(t, USER_PLACE) ||
        ROWS(t, TEXT_LAYOUT) != 5 || ROWS(t, USER_LAYOUT) != 5) {
        PyErr_SetString(PyExc_ValueError, "the tables' shapes do not match each other");
        return -1;
    }
    int64_t most = 0;
    for (Py_ssize_t i = 0; i < products; i++) most = I(t, PRODUCT_BAND)[i] > most ? I(t, PRODUCT_BAND)[i] : most;
    for (Py_ssize_t i = 0; i < ROWS(t, USER_BAND_KEYS); i++)
        most = I(t, USER_BAND_KEYS)[i] > most ? I(t, USER_BAND_KEYS)[i] : most;
    if (most >= t->bands) t->bands = most + 1;
    Py_ssize_t width = t->width, tw = t->text_width, uw = t->user_width;
    const int64_t *text_layout = I(t, TEXT_LAYOUT);
    if (check_range(I(t, PRODUCT_COLUMNS), ROWS(t, PRODUCT_COLUMNS), 0, width, "product_columns") ||
        check_range(I(t, CATALOG_POSITIONS), ROWS(t, CATALOG_POSITIONS), 0, COLS(t, PRODUCT_VALUES),
                    "catalog_positions") ||
        check_range(I(t, QP_COLUMNS), ROWS(t, QP_COLUMNS), 0, width, "qp_columns") ||
        check_csr(t, POST_START, POST_ROWS, "post_start") ||
        check_range(I(t, POST_ROWS), ROWS(t, POST_ROWS), 0, products, "post_rows") ||
        check_range(I(t, PRODUCT_CATEGORY), products, -1, t->categories, "product_category") ||
        check_range(I(t, PRODUCT_BAND), products, -1, t->bands, "product_band") ||
        check_csr(t, USER_CATEGORY_START, USER_CATEGORY_CODES, "user_category_start") ||
        check_range(I(t, USER_CATEGORY_CODES), ROWS(t, USER_CATEGORY_CODES), 0, t->categories,
                    "user_category_codes") ||
        check_csr(t, USER_BAND_START, USER_BAND_KEYS, "user_band_start") ||
        check_range(I(t, USER_BAND_KEYS), ROWS(t, USER_BAND_KEYS), 0, t->bands, "user_band_keys") ||
        check_range(text_layout, 4, t->weights, tw, "text_layout") ||
        check_range(text_layout + 4, 1, 0, t->weights, "text_layout") ||
        check_range(I(t, USER_LAYOUT), 5, 0, uw, "user_layout"))
        return -1;
    for (Py_ssize_t i = 0; i < ROWS(t, TEXT_PLACE); i++) {
        if (check_range(I(t, TEXT_PLACE) + 2 * i, 1, 0, width, "text_place") ||
            check_range(I(t, TEXT_PLACE) + 2 * i + 1, 1, 0, tw, "text_place"))
            return -1;
    }
    for (Py_ssize_t i = 0; i < ROWS(t, USER_PLACE); i++) {
        if (check_range(I(t, USER_PLACE) + 2 * i, 1, 0, width, "user_place") ||
            check_range(I(t, USER_PLACE) + 2 * i + 1, 1, 0, uw, "user_place"))
            return -1;
    }
    return 0;
}

static int tables_init(Tables *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || kwargs == NULL) {
        PyErr_SetString(PyExc_TypeError, "Tables takes keyword arguments only");
        return -1;
    }
    for (int i = 0; i < NUM_ARRAYS; i++) {
        array_release(&self->a[i]);
        PyObject *value = PyDict_GetItemString(kwargs, SPECS[i].name);
        if (value == NULL) {
            PyErr_Format(PyExc_TypeError, "Tables: %s is required", SPECS[i].name);
            return -1;
        }
        if (array_get(value, SPECS[i].name, SPECS[i].kind, SPECS[i].ndim, 0, &self->a[i]) < 0) return -1;
    }
    PyObject *titles = PyDict_GetItemString(kwargs, "titles");
    const char *sizes[] = {"categories", "bands", "width", "text_width", "user_width"};
    Py_ssize_t *targets[] = {&self->categories, &self->bands, &self->width, &self->text_width, &self->user_width};
    for (int i = 0; i < 5; i++) {
        PyObject *value = PyDict_GetItemString(kwargs, sizes[i]);
        *targets[i] = value ? PyLong_AsSsize_t(value) : -1;
        if (*targets[i] < 0) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "Tables: %s >= 0 is required", sizes[i]);
            return -1;
        }
    }
    if (titles == NULL) {
        PyErr_SetString(PyExc_TypeError, "Tables: titles is required");
        return -1;
    }
    Py_XSETREF(self->titles, Py_NewRef(titles));
    return tables_check(self);
}

static PyMethodDef tables_methods[] = {
    {"fill", (PyCFunction)tables_fill, METH_VARARGS,
     "fill(ids, product_row, qp_rows, cold, cold_values, cold_side, cold_text, terms, multipliers, "
     "num_terms, query_norm, user_index, matrix, text, user): one request's matrix, in place."},
    {"missing", (PyCFunction)tables_missing, METH_VARARGS,
     "missing(ids, mapping): the positions of the ids the mapping does not hold."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TablesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ranking.features._kernel.Tables",
    .tp_basicsize = sizeof(Tables),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The arrays of one feature snapshot the kernel reads, checked once.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tables_init,
    .tp_dealloc = (destructor)tables_dealloc,
    .tp_methods = tables_methods,
};

static struct PyModuleDef kernel_module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__kernel(void)
{
    if (PyType_Ready(&TablesType) < 0) return NULL;
    PyObject *module = PyModule_Create(&kernel_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Tables", (PyObject *)&TablesType) < 0 ||
        PyModule_AddStringConstant(module, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
