/* The common case of a rank request's candidates, checked in one compiled pass (see
 * ranking/serving/validation.py): every candidate a dict whose fields have the exact types and
 * sizes the validator accepts. The answer is the candidates' ids as text, or the position of
 * the first candidate this pass does not accept whole, for the Python validator to name its
 * problem (or to accept it: this pass is never more lenient, sometimes stricter).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>

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

static struct PyModuleDef candidates_module = {PyModuleDef_HEAD_INIT, "_candidates", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__candidates(void)
{
    for (int i = 0; i < 7; i++) {
        if (KEYS[i] == NULL && (KEYS[i] = PyUnicode_InternFromString(FIELDS[i])) == NULL) return NULL;
    }
    PyObject *module = PyModule_Create(&candidates_module);
    if (module == NULL) return NULL;
    if (PyModule_AddStringConstant(module, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
