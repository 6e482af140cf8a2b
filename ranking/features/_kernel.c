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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* --- the arrays of a Tables, by name ------------------------------------------------ */

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

typedef struct {
    Py_buffer view;
    int held;
    Py_ssize_t rows, cols;
} Array;

static int array_get(PyObject *obj, const char *name, Kind kind, int ndim, int writable, Array *out)
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

static void array_release(Array *array)
{
    if (array->held) {
        PyBuffer_Release(&array->view);
        array->held = 0;
    }
}

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

static void tables_dealloc(Tables *self)
{
    for (int i = 0; i < NUM_ARRAYS; i++) array_release(&self->a[i]);
    Py_XDECREF(self->titles);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_range(const int64_t *values, Py_ssize_t n, int64_t low, int64_t high, const char *name)
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

/* --- one request ------------------------------------------------------------------- */

/* The int a dict holds for ``key``, or ``missing``; -2 with an exception set on error. */
static Py_ssize_t lookup(PyObject *dict, PyObject *key, Py_ssize_t missing, Py_ssize_t bound, const char *name)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) return PyErr_Occurred() ? -2 : missing;
    Py_ssize_t index = PyLong_AsSsize_t(value);
    if (index == -1 && PyErr_Occurred()) return -2;
    if (index < 0 || index >= bound) {
        PyErr_Format(PyExc_ValueError, "%s: row %zd is outside [0, %zd)", name, index, bound);
        return -2;
    }
    return index;
}

/* The position of ``row`` in ascending rows[0:n], or -1. */
static Py_ssize_t find(const int64_t *rows, Py_ssize_t n, int64_t row)
{
    Py_ssize_t low = 0, high = n;
    while (low < high) {
        Py_ssize_t mid = low + (high - low) / 2;
        if (rows[mid] < row) low = mid + 1;
        else high = mid;
    }
    return low < n && rows[low] == row ? low : -1;
}

typedef struct {
    const int64_t *terms;
    const double *multipliers;
    Py_ssize_t count, num_terms;
    PyObject *norm;
} Query;

/* The text inputs of catalog row ``r``: the same sums, in the same order, as
 * ``text_statistics_known``. */
static int text_known(Tables *t, const Query *q, Py_ssize_t r, double *out)
{
    const int64_t *start = I(t, POST_START), *rows = I(t, POST_ROWS), *layout = I(t, TEXT_LAYOUT);
    const double *weights = F(t, POST_WEIGHTS);
    Py_ssize_t w = t->weights;
    double found = 0.0, in_title = 0.0;
    for (Py_ssize_t k = 0; k < q->count; k++) {
        int64_t term = q->terms[k];
        if (term < 0) continue;
        Py_ssize_t at = find(rows + start[term], start[term + 1] - start[term], r);
        if (at < 0) continue;
        const double *weight = weights + (start[term] + at) * w, *m = q->multipliers + k * w;
        for (Py_ssize_t j = 0; j < w; j++) out[j] += weight[j] * m[j];
        found += 1.0;
        in_title += weight[layout[4]] > 0;
    }
    if (q->num_terms) {
        int exact = PyUnicode_Contains(PyList_GET_ITEM(t->titles, r), q->norm);
        if (exact < 0) return -1;
        out[layout[0]] = exact ? 1.0 : 0.0;
        out[layout[1]] = found / (double)q->num_terms;
        out[layout[2]] = in_title / (double)q->num_terms;
    }
    return 0;
}

/* Per category code (and one more for a category no user has: "other"), the user's lift. */
static void lifts_fill(Tables *t, Py_ssize_t u, int start, int keys, int lifts, int other, double *dense,
                       Py_ssize_t size)
{
    double fallback = u >= 0 ? F(t, other)[u] : NAN;
    for (Py_ssize_t c = 0; c < size; c++) dense[c] = fallback;
    if (u < 0) return;
    for (int64_t k = I(t, start)[u]; k < I(t, start)[u + 1]; k++) {
        double lift = F(t, lifts)[k];
        if (lift != 0.0) dense[I(t, keys)[k]] = lift; /* the reference's `lift or other` */
    }
}

static void place(const int64_t *pairs, const double *defaults, Py_ssize_t count, const double *inputs,
                  double *row)
{
    for (Py_ssize_t j = 0; j < count; j++) {
        double value = inputs[pairs[2 * j + 1]];
        row[pairs[2 * j]] = isnan(value) ? defaults[j] : value;
    }
}

typedef struct {
    PyObject *ids, *product_row, *qp_rows, *cold, *norm;
    Array cold_values, cold_side, cold_text, terms, multipliers, matrix, text, user;
    Py_ssize_t num_terms, user_index;
} Request;

static int request_check(Tables *t, Request *r, Py_ssize_t n)
{
    Py_ssize_t ncold = r->cold_values.rows;
    if (r->matrix.rows != n || r->matrix.cols != t->width || r->text.rows != n ||
        r->text.cols != t->text_width || r->user.rows != n || r->user.cols != t->user_width) {
        PyErr_SetString(PyExc_ValueError, "matrix, text and user need one row per candidate and the tables' widths");
        return -1;
    }
    if (r->cold_values.cols != ROWS(t, CATALOG_POSITIONS) || r->cold_side.rows != ncold ||
        r->cold_side.cols != 3 || r->cold_text.rows != ncold || r->cold_text.cols != t->text_width) {
        PyErr_SetString(PyExc_ValueError, "the cold arrays need one row per cold product and their widths");
        return -1;
    }
    if (r->multipliers.rows != r->terms.rows || r->multipliers.cols != t->weights ||
        r->user_index < -1 || r->user_index >= ROWS(t, USER_PRICE) ||
        check_range((int64_t *)r->terms.view.buf, r->terms.rows, -1, ROWS(t, POST_START) - 1, "terms"))
        return -1;
    return 0;
}

static int request_fill(Tables *t, Request *r)
{
    Py_ssize_t n = PyList_GET_SIZE(r->ids), kp = COLS(t, PRODUCT_VALUES), kq = COLS(t, QP_VALUES);
    Py_ssize_t kc = ROWS(t, CATALOG_POSITIONS), tw = t->text_width, uw = t->user_width;
    Py_ssize_t u = r->user_index, ncold = r->cold_values.rows;
    if (request_check(t, r, n) < 0) return -1;
    Query q = {(int64_t *)r->terms.view.buf, (double *)r->multipliers.view.buf, r->terms.rows, r->num_terms,
               r->norm};
    const int64_t *ul = I(t, USER_LAYOUT), *tl = I(t, TEXT_LAYOUT);
    double price_mean = u >= 0 ? F(t, USER_PRICE)[u] : 0.0, engagement = u >= 0 ? F(t, USER_ENGAGEMENT)[u] : 0.0;
    double *category_lift = PyMem_Malloc(sizeof(double) * (t->categories + 1 + t->bands + 1));
    if (category_lift == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    double *band_lift = category_lift + t->categories + 1;
    lifts_fill(t, u, USER_CATEGORY_START, USER_CATEGORY_CODES, USER_CATEGORY_LIFTS, USER_CATEGORY_OTHER,
               category_lift, t->categories + 1);
    lifts_fill(t, u, USER_BAND_START, USER_BAND_KEYS, USER_BAND_LIFTS, USER_BAND_OTHER, band_lift, t->bands + 1);
    int status = 0;
    for (Py_ssize_t i = 0; i < n && status == 0; i++) {
        PyObject *id = PyList_GET_ITEM(r->ids, i);
        Py_ssize_t row = lookup(r->product_row, id, -1, t->products, "product_row"), cold = -1;
        Py_ssize_t qp = row == -2 ? -2 : lookup(r->qp_rows, id, ROWS(t, QP_VALUES) - 1, ROWS(t, QP_VALUES), "qp_rows");
        if (row == -1 && ncold) cold = lookup(r->cold, id, -1, ncold, "cold");
        if (row == -2 || qp == -2 || cold == -2) {
            status = -1;
            break;
        }
        double *out = (double *)r->matrix.view.buf + i * t->width;
        double *text = (double *)r->text.view.buf + i * tw, *user = (double *)r->user.view.buf + i * uw;
        /* 1. Stored product and query x product features; a cold product's own attributes. */
        const double *stored = F(t, PRODUCT_VALUES) + (row >= 0 ? row : t->products) * kp;
        for (Py_ssize_t j = 0; j < kp; j++) out[I(t, PRODUCT_COLUMNS)[j]] = stored[j];
        if (cold >= 0) {
            const double *own = (double *)r->cold_values.view.buf + cold * kc;
            for (Py_ssize_t j = 0; j < kc; j++) out[I(t, PRODUCT_COLUMNS)[I(t, CATALOG_POSITIONS)[j]]] = own[j];
        }
        const double *qp_stored = F(t, QP_VALUES) + qp * kq;
        for (Py_ssize_t j = 0; j < kq; j++) out[I(t, QP_COLUMNS)[j]] = qp_stored[j];
        /* 2. Text: computed for a catalog product, the caller's for a cold one, else none. */
        double category = -1.0, band = -1.0, rel_price = NAN;
        if (cold >= 0) {
            memcpy(text, (double *)r->cold_text.view.buf + cold * tw, sizeof(double) * tw);
            const double *side = (double *)r->cold_side.view.buf + cold * 3;
            category = side[0], band = side[1], rel_price = side[2];
        } else {
            memset(text, 0, sizeof(double) * tw);
            text[tl[3]] = (double)q.num_terms;
            if (row >= 0) {
                status = text_known(t, &q, row, text);
                category = (double)I(t, PRODUCT_CATEGORY)[row], band = (double)I(t, PRODUCT_BAND)[row];
                rel_price = F(t, PRODUCT_REL_PRICE)[row];
            }
        }
        /* 3. The user against the product's category, price band and relative price. */
        Py_ssize_t c = category > (double)t->categories ? t->categories : (Py_ssize_t)category;
        Py_ssize_t b = band > (double)t->bands ? t->bands : (Py_ssize_t)band;
        user[ul[0]] = c < 0 ? NAN : category_lift[c];
        user[ul[1]] = b < 0 ? NAN : band_lift[b];
        user[ul[2]] = rel_price;
        user[ul[3]] = price_mean;
        user[ul[4]] = engagement;
        /* 4. Each input where the contract places it. */
        place(I(t, TEXT_PLACE), F(t, TEXT_DEFAULTS), ROWS(t, TEXT_PLACE), text, out);
        place(I(t, USER_PLACE), F(t, USER_DEFAULTS), ROWS(t, USER_PLACE), user, out);
    }
    PyMem_Free(category_lift);
    return status;
}

static PyObject *tables_fill(Tables *self, PyObject *args)
{
    Request r;
    PyObject *arrays[8];
    memset(&r, 0, sizeof(r));
    if (!PyArg_ParseTuple(args, "O!O!O!O!OOOOOnUnOOO:fill", &PyList_Type, &r.ids, &PyDict_Type, &r.product_row,
                          &PyDict_Type, &r.qp_rows, &PyDict_Type, &r.cold, &arrays[0], &arrays[1], &arrays[2],
                          &arrays[3], &arrays[4], &r.num_terms, &r.norm, &r.user_index, &arrays[5], &arrays[6],
                          &arrays[7]))
        return NULL;
    Array *targets[8] = {&r.cold_values, &r.cold_side, &r.cold_text, &r.terms, &r.multipliers,
                         &r.matrix, &r.text, &r.user};
    const char *names[8] = {"cold_values", "cold_side", "cold_text", "terms", "multipliers", "matrix", "text", "user"};
    int status = 0;
    for (int i = 0; i < 8 && status == 0; i++) {
        Kind kind = i == 3 ? I64 : F64;
        status = array_get(arrays[i], names[i], kind, i == 3 ? 1 : 2, i >= 5, targets[i]);
    }
    if (status == 0) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(r.ids); i++) {
            if (!PyUnicode_CheckExact(PyList_GET_ITEM(r.ids, i))) {
                PyErr_SetString(PyExc_TypeError, "ids must be str");
                status = -1;
                break;
            }
        }
    }
    if (status == 0) status = request_fill(self, &r);
    for (int i = 0; i < 8; i++) array_release(targets[i]);
    if (status < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *tables_missing(Tables *self, PyObject *args)
{
    PyObject *ids, *mapping;
    if (!PyArg_ParseTuple(args, "O!O!:missing", &PyList_Type, &ids, &PyDict_Type, &mapping)) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ids); i++) {
        int found = PyDict_Contains(mapping, PyList_GET_ITEM(ids, i));
        PyObject *index = found == 0 ? PyLong_FromSsize_t(i) : NULL;
        if (found < 0 || (found == 0 && (index == NULL || PyList_Append(out, index) < 0))) {
            Py_XDECREF(index);
            Py_DECREF(out);
            return NULL;
        }
        Py_XDECREF(index);
    }
    return out;
}

/* --- the candidates of a rank request ------------------------------------------------ */

/* The fields of a candidate, as interned keys (made once, at import). */
static const char *FIELDS[] = {"id", "title", "price", "category", "description", "brand", "rating"};
static PyObject *KEYS[7];

/* Whether ``value`` is a str of at most ``longest`` characters without a NUL. */
static int text_fits(PyObject *value, Py_ssize_t longest)
{
    if (!PyUnicode_CheckExact(value)) return 0;
    Py_ssize_t length = PyUnicode_GET_LENGTH(value);
    return length <= longest && PyUnicode_FindChar(value, 0, 0, length, 1) == -1;
}

/* Whether ``value`` is a float or an int (not a bool) within [low, high]; an int too large
 * for a long long is left to the caller. */
static int number_fits(PyObject *value, double low, double high)
{
    if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        return number >= low && number <= high;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (number == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        return (double)number >= low && (double)number <= high;
    }
    return 0;
}

/* An optional field: absent, null, or what ``fits`` accepts. */
#define OPTIONAL(value, fits) ((value) == NULL || (value) == Py_None || (fits))

/* The id of a candidate as text (a str as it is, an int in decimal), or NULL (no error set)
 * when it is not one the common case accepts. */
static PyObject *candidate_id(PyObject *value, Py_ssize_t longest)
{
    if (PyUnicode_CheckExact(value)) {
        if (PyUnicode_GET_LENGTH(value) == 0 || !text_fits(value, longest)) return NULL;
        return Py_NewRef(value);
    }
    if (!PyLong_CheckExact(value)) return NULL;
    PyObject *text = PyObject_Str(value);
    if (text == NULL || PyUnicode_GET_LENGTH(text) > longest) {
        PyErr_Clear();
        Py_XDECREF(text);
        return NULL;
    }
    return text;
}

static PyObject *candidates_check(PyObject *module, PyObject *args)
{
    PyObject *products;
    Py_ssize_t id_longest, short_longest, description_longest;
    if (!PyArg_ParseTuple(args, "O!nnn:candidates_check", &PyList_Type, &products, &id_longest, &short_longest,
                          &description_longest))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(products);
    PyObject *ids = PyList_New(n), *seen = PySet_New(NULL);
    if (ids == NULL || seen == NULL) goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(products, i);
        if (!PyDict_CheckExact(item)) goto defer;
        PyObject *raw_id = PyDict_GetItemWithError(item, KEYS[0]), *title = PyDict_GetItemWithError(item, KEYS[1]);
        PyObject *price = PyDict_GetItemWithError(item, KEYS[2]), *category = PyDict_GetItemWithError(item, KEYS[3]);
        PyObject *description = PyDict_GetItemWithError(item, KEYS[4]);
        PyObject *brand = PyDict_GetItemWithError(item, KEYS[5]), *rating = PyDict_GetItemWithError(item, KEYS[6]);
        if (PyErr_Occurred()) goto error;
        PyObject *id = raw_id ? candidate_id(raw_id, id_longest) : NULL;
        if (id == NULL) goto defer;
        PyList_SET_ITEM(ids, i, id);
        int duplicate = PySet_Contains(seen, id);
        if (duplicate < 0) goto error;
        if (duplicate || PySet_Add(seen, id) < 0 || title == NULL || !text_fits(title, short_longest) ||
            price == NULL || !number_fits(price, 0.0, DBL_MAX) || category == NULL ||
            !text_fits(category, short_longest) || !OPTIONAL(description, text_fits(description, description_longest)) ||
            !OPTIONAL(brand, text_fits(brand, short_longest)) || !OPTIONAL(rating, number_fits(rating, 0.0, 5.0))) {
            if (PyErr_Occurred()) goto error;
            goto defer;
        }
        continue;
    defer:
        Py_DECREF(ids);
        Py_DECREF(seen);
        return PyLong_FromSsize_t(i);
    }
    Py_DECREF(seen);
    return ids;
error:
    Py_XDECREF(ids);
    Py_XDECREF(seen);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"candidates_check", candidates_check, METH_VARARGS,
     "candidates_check(products, id_longest, short_longest, description_longest): the candidates' ids as "
     "text when every candidate is of the common, valid kind; else the position of the first that is not "
     "(for the validator to name its problem, or accept it)."},
    {NULL, NULL, 0, NULL},
};

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

static struct PyModuleDef kernel_module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__kernel(void)
{
    if (PyType_Ready(&TablesType) < 0) return NULL;
    for (int i = 0; i < 7; i++) {
        if (KEYS[i] == NULL && (KEYS[i] = PyUnicode_InternFromString(FIELDS[i])) == NULL) return NULL;
    }
    PyObject *module = PyModule_Create(&kernel_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Tables", (PyObject *)&TablesType) < 0 ||
        PyModule_AddStringConstant(module, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
