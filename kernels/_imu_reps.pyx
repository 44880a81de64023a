# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-sample core of the IMU rep detector: gravity tracking, vertical acceleration,
integration to velocity with zero-velocity resets. Validation lives in kernels.imu_reps."""

from libc.math cimport fabs, sqrt

from kernels._gil cimport NOGIL_MIN_ITEMS

# state layout: gravity estimate (3), velocity, still counter, initialised flag
cdef enum:
    GX = 0
    GY = 1
    GZ = 2
    VEL = 3
    STILL = 4
    INIT = 5


cdef void _motion(
    const double[:, ::1] accel,
    const double[:, ::1] gyro,
    double dt,
    double[::1] state,
    double[::1] a_vert,
    double[::1] velocity,
    unsigned char[::1] still,
    double accel_tol,
    double gyro_tol,
    Py_ssize_t still_samples,
    double alpha,
    Py_ssize_t n,
    double* v_io,
    double* count_io,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef double ax, ay, az, wx, wy, wz, gx, gy, gz, cx, cy, cz, an, wn, gn, av
    cdef double v = v_io[0]
    cdef double count = count_io[0]
    gx = state[GX]
    gy = state[GY]
    gz = state[GZ]
    for i in range(n):
        ax = accel[i, 0]
        ay = accel[i, 1]
        az = accel[i, 2]
        wx = gyro[i, 0]
        wy = gyro[i, 1]
        wz = gyro[i, 2]
        if state[INIT] == 0.0:
            gx = ax
            gy = ay
            gz = az
            state[INIT] = 1.0
        # the gravity vector seen from a rotating sensor: dg/dt = -w x g
        cx = wy * gz - wz * gy
        cy = wz * gx - wx * gz
        cz = wx * gy - wy * gx
        gx = gx - cx * dt
        gy = gy - cy * dt
        gz = gz - cz * dt
        an = sqrt(ax * ax + ay * ay + az * az)
        wn = sqrt(wx * wx + wy * wy + wz * wz)
        gn = sqrt(gx * gx + gy * gy + gz * gz)
        if fabs(an - gn) < accel_tol and wn < gyro_tol:
            count = count + 1.0
        else:
            count = 0.0
        if count >= still_samples:
            # held still: the accelerometer measures gravity alone; pull the estimate to it
            gx = gx + alpha * (ax - gx)
            gy = gy + alpha * (ay - gy)
            gz = gz + alpha * (az - gz)
            gn = sqrt(gx * gx + gy * gy + gz * gz)
        av = (ax * gx + ay * gy + az * gz) / gn - gn
        if count >= still_samples:
            v = 0.0
            still[i] = 2
        else:
            v = v + av * dt
            still[i] = 1 if count > 0.0 else 0
        a_vert[i] = av
        velocity[i] = v
    state[GX] = gx
    state[GY] = gy
    state[GZ] = gz
    v_io[0] = v
    count_io[0] = count


def vertical_motion(
    const double[:, ::1] accel,
    const double[:, ::1] gyro,
    double dt,
    double[::1] state,
    double[::1] a_vert,
    double[::1] velocity,
    unsigned char[::1] still,
    double accel_tol,
    double gyro_tol,
    Py_ssize_t still_samples,
    double alpha,
):
    cdef Py_ssize_t n = accel.shape[0]
    cdef double v = state[VEL]
    cdef double count = state[STILL]
    if n >= NOGIL_MIN_ITEMS:
        with nogil:
            _motion(
                accel, gyro, dt, state, a_vert, velocity, still,
                accel_tol, gyro_tol, still_samples, alpha, n, &v, &count,
            )
    else:
        _motion(
            accel, gyro, dt, state, a_vert, velocity, still,
            accel_tol, gyro_tol, still_samples, alpha, n, &v, &count,
        )
    state[VEL] = v
    state[STILL] = count
