"""The Python module (python/mmsb) over the C ABI: zero-copy read-only page views, pushes from
numpy, tick, replay, reopening, and bad input raising exceptions that name the problem."""
import ctypes

import numpy as np
import pytest

import mmsb


@pytest.fixture
def bus(tmp_path):
    b = mmsb.Bus(tmp_path / "bus", "plus_times<f64>", extent=256, sync=False)
    yield b
    b.close()


def test_instances_and_version():
    table = mmsb.instances()
    assert ("plus_times<f64>", np.dtype(np.float64), 256) in table
    assert ("or_and", np.dtype(np.bool_), 1024) in table
    assert len(table) == 16
    assert mmsb.version().count(".") == 2


def test_push_tick_read(bus):
    assert (bus.semiring, bus.dtype, bus.extent) == ("plus_times<f64>", np.float64, 256)
    p = bus.create_page()
    q = bus.create_page(initial=2.0)
    assert (p, q, len(bus)) == (0, 1, 2)
    bus.push(p, slots=np.array([1, 5, 1]), values=np.array([1.5, 2.0, 0.25]))
    mask = np.zeros(256, dtype=bool)
    mask[[0, 64, 255]] = True
    bus.push_dense(q, mask, np.arange(256, dtype=np.float64), op="assign")
    assert bus.page(p)[1] == 0.0  # nothing before the tick
    assert bus.tick() == 1
    v = bus.page(p)
    assert v[1] == 1.75 and v[5] == 2.0 and v.sum() == 3.75
    w = bus[q]
    assert w[0] == 0.0 and w[64] == 64.0 and w[255] == 255.0 and w[1] == 2.0
    # lists convert when the cast is safe in kind
    bus.push(p, [2], [3])
    assert bus.tick() == 2 and bus.page(p)[2] == 3.0
    assert bus.tick() == 2  # nothing queued: no commit


def test_view_is_zero_copy_and_read_only(bus):
    p = bus.create_page()
    bus.push(p, [7], np.array([4.0]))
    bus.tick()
    v = bus.page(p)
    assert v.ctypes.data == bus.page_address(p)
    assert v.flags.writeable is False and v.flags.owndata is False
    assert v.shape == (256,) and v.dtype == np.float64
    with pytest.raises(ValueError):
        v[0] = 1.0
    with pytest.raises(ValueError):
        v.flags.writeable = True
    # the same memory as the C pointer, read through ctypes
    assert ctypes.c_double.from_address(bus.page_address(p) + 7 * 8).value == 4.0


def test_view_outlives_close(tmp_path):
    b = mmsb.Bus(tmp_path / "b", "min_plus<f32>", extent=1024)
    p = b.create_page()
    b.push(p, [3], np.array([1.5], dtype=np.float32), op="assign")
    b.tick()
    v = b.page(p)
    b.close()
    assert b.closed
    assert v[3] == np.float32(1.5)  # the memory lives as long as a view of it
    with pytest.raises(mmsb.Error, match="is closed"):
        b.page(p)
    with pytest.raises(ValueError, match="is closed"):
        b.tick()
    b.close()  # again: nothing


def test_reopen_and_replay(tmp_path):
    d = tmp_path / "store"
    with mmsb.Bus(d, "max_plus<f64>", extent=256) as b:
        p = b.create_page()
        b.push(p, [0, 1], np.array([5.0, -1.0]))
        e1 = b.tick()
        h1 = b.state_hash()
        b.push(p, [0], np.array([9.0]))
        e2 = b.tick()
        h2 = b.state_hash()
    assert (e1, e2) == (1, 2) and h1 != h2
    with mmsb.Bus(d) as b:  # the shape from the store
        assert (b.semiring, b.extent, b.epoch) == ("max_plus<f64>", 256, 2)
        assert b.state_hash() == h2
        assert b.hash_at(1) == h1
        old = b.read_at(1, 0)
        assert old[0] == 5.0 and old.flags.writeable
        assert b.page(0)[0] == 9.0
        with pytest.raises(IndexError, match="99"):
            b.hash_at(99)
        b.checkpoint()
    with mmsb.Bus(d, "max_plus<f64>", 256) as b:
        assert b.state_hash() == h2


def test_damaged_log(tmp_path):
    d = tmp_path / "store"
    with mmsb.Bus(d, "plus_times<f64>", extent=256) as b:
        assert b.lost_ticks == 0 and "LOST" not in b.recovery_report
        p = b.create_page()
        for k in range(10):
            b.push(p, [k], np.array([1.0 + k]))
            b.tick()
    (seg,) = (d / "log").glob("*.seg")
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x5A  # inside a tick's record, whole ticks after it
    seg.write_bytes(bytes(data))
    with pytest.raises(mmsb.Error, match="follow") as e:
        mmsb.Bus(d)
    assert e.value.status == 9 and seg.name in str(e.value)  # MMSB_E_CORRUPT, naming the segment
    assert seg.read_bytes() == bytes(data)  # refused: the files are as they were
    with mmsb.Bus(d, point_in_time=True) as b:
        assert 1 <= b.epoch < 10 and b.epoch + b.lost_ticks == 10
        assert "LOST" in b.recovery_report
        b.push(0, [200], np.array([1.0]))
        e = b.tick()
        h = b.state_hash()
    with mmsb.Bus(d) as b:  # the recovered session resumed the log: a plain open accepts it
        assert (b.epoch, b.lost_ticks, b.state_hash()) == (e, 0, h)


def test_bool_pages(tmp_path):
    with mmsb.Bus(tmp_path / "r", "or_and", extent=256) as b:
        p = b.create_page()
        b.push(p, [3, 200], np.array([True, True]))
        mask = np.zeros(256, dtype=bool)
        mask[10] = True
        b.push_dense(p, mask, np.ones(256, dtype=bool))
        b.tick()
        v = b.page(p)
        assert v.dtype == np.bool_ and v.sum() == 3 and v[3] and v[10] and v[200]


def test_int_pages(tmp_path):
    with mmsb.Bus(tmp_path / "i", "plus_times<i64>", extent=1024) as b:
        p = b.create_page()
        b.push(p, np.arange(1024), np.full(1024, 2**40, dtype=np.int64))
        b.push(p, np.arange(1024), np.ones(1024, dtype=np.int64))
        b.tick()
        assert (b.page(p) == 2**40 + 1).all()


def test_bad_input(bus):
    p = bus.create_page()
    with pytest.raises(TypeError, match="dtype float32.*float64"):
        bus.push(p, [1], np.array([1.0], dtype=np.float32))
    with pytest.raises(TypeError, match="cannot be converted"):
        bus.push(p, [1], ["x"])
    with pytest.raises(IndexError, match="page 5 does not exist"):
        bus.push(5, [1], np.array([1.0]))
    with pytest.raises(IndexError, match="page 1 does not exist"):
        bus.page(1)
    with pytest.raises(IndexError, match="slot 256 is out of range"):
        bus.push(p, [0, 256], np.array([1.0, 2.0]))
    with pytest.raises(IndexError, match="slot -1 is out of range"):
        bus.push(p, [-1], np.array([1.0]))
    with pytest.raises(ValueError, match="2 slots but 1 values"):
        bus.push(p, [0, 1], np.array([1.0]))
    with pytest.raises(ValueError, match="must be 1-D"):
        bus.push(p, [0], np.array([[1.0]]))
    with pytest.raises(TypeError, match="slots must be integers"):
        bus.push(p, np.array([0.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="unknown op"):
        bus.push(p, [0], np.array([1.0]), op="multiply")
    with pytest.raises(ValueError, match=r"mask has shape \(255,\)"):
        bus.push_dense(p, np.zeros(255, dtype=bool), np.zeros(256))
    with pytest.raises(TypeError, match="mask must be a bool array"):
        bus.push_dense(p, np.zeros(256, dtype=np.uint8), np.zeros(256))
    with pytest.raises(ValueError, match=r"payload has shape \(10,\)"):
        bus.push_dense(p, np.zeros(256, dtype=bool), np.zeros(10))
    with pytest.raises(TypeError, match="page must be an integer"):
        bus.page("0")
    with pytest.raises(IndexError, match="epoch -1 is out of range"):
        bus.hash_at(-1)
    with pytest.raises(TypeError, match="epoch must be an integer, not float"):
        bus.read_at(2.7, p)
    # no change reached the bus: the tick commits only the page's creation
    assert bus.tick() == 1
    assert not bus.page(p).any()


def test_bad_open(tmp_path):
    with pytest.raises(ValueError, match="unknown semiring 'plus_times<f16>'"):
        mmsb.Bus(tmp_path / "x", "plus_times<f16>", 256)
    with pytest.raises(mmsb.Error, match="extent 512") as e:
        mmsb.Bus(tmp_path / "x", "plus_times<f64>", 512)
    assert e.value.status == 14  # MMSB_E_UNSUPPORTED
    with pytest.raises(ValueError, match="no store here"):
        mmsb.Bus(tmp_path / "empty")
    with mmsb.Bus(tmp_path / "s", "plus_times<f64>", 256) as b:
        b.push(b.create_page(), [0], np.array([1.0]))
        b.tick()
    with pytest.raises(mmsb.Error, match="s") as e:
        mmsb.Bus(tmp_path / "s", "min_plus<f64>", 256)
    assert e.value.status == 10  # MMSB_E_BAD_FORMAT: a store of another shape
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        mmsb.Bus(tmp_path / "file" / "bus", "plus_times<f64>", 256)
    with pytest.raises(TypeError):
        mmsb.Bus(tmp_path / "y", 42, 256)
