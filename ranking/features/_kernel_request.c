/* One request's feature matrix from a snapshot's Tables (see _kernel_tables.c). */
#include <math.h>
#include <string.h>

#include "_kernel.h"


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

PyObject *tables_fill(Tables *self, PyObject *args)
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

PyObject *tables_missing(Tables *self, PyObject *args)
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
