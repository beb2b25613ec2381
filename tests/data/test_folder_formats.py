"""Any still-image format Pillow reads, label CSVs and the train-split ratio."""

from __future__ import annotations

import numpy as np
import pytest

from augplat.data.folder import SplitPlan, read_folder
from augplat.data.splits import resolve_fractions
from augplat.errors import DataError, UserError


def _face(seed: int, size=(24, 24)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _write_every_format(root):
    """One image per format/mode under root/<class>/; returns {file name: expected H×W(×3)}."""
    from PIL import Image

    rgb = _face(1)
    grey = rgb[..., 0]
    expected = {}
    d = root / "happy"
    d.mkdir(parents=True)
    Image.fromarray(grey).convert("P").save(d / "palette.tiff")  # palette-mode TIFF
    expected["palette.tiff"] = grey
    wide = grey.astype(np.uint16) * 257  # 16-bit TIFF using the full range
    Image.fromarray(wide).save(d / "deep.tif")
    expected["deep.tif"] = grey
    Image.fromarray(rgb).save(d / "plain.bmp")
    expected["plain.bmp"] = rgb
    frames = [Image.fromarray(grey).convert("P"), Image.fromarray(255 - grey).convert("P")]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])
    expected["anim.gif"] = grey  # first frame
    Image.fromarray(rgb).save(d / "lossless.webp", lossless=True)
    expected["lossless.webp"] = rgb
    Image.fromarray(grey).save(d / "grey.pgm")
    expected["grey.pgm"] = grey
    Image.fromarray(rgb).save(d / "colour.ppm")
    expected["colour.ppm"] = rgb
    return expected


def test_every_pillow_format_is_read_including_palette_and_16_bit_tiff(tmp_path):
    # Old code: TIFF, PGM and PPM were not in its six-suffix list.
    expected = _write_every_format(tmp_path / "set")
    ds = read_folder(tmp_path / "set", size=24, channels=3, val_fraction=0, test_fraction=0)
    assert len(ds.images) == len(expected)
    for (name, pixels), image in zip(sorted(expected.items()), ds.images, strict=True):
        want = pixels if pixels.ndim == 3 else np.stack([pixels] * 3, axis=-1)
        got = np.transpose(image, (1, 2, 0)).astype(int)
        assert np.abs(got - want).max() <= 1, name


def test_cmyk_jpeg_rgba_and_la_are_converted_and_flattened(tmp_path):
    from PIL import Image

    d = tmp_path / "set" / "x"
    d.mkdir(parents=True)
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(d / "red.jpg", quality=100)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:8, ..., 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba).save(d / "half.png")
    la = np.zeros((16, 16, 2), np.uint8)  # fully transparent black
    Image.fromarray(la, "LA").save(d / "clear.png")
    ds = read_folder(tmp_path / "set", size=16, val_fraction=0, test_fraction=0)
    clear, half, red = (np.transpose(im, (1, 2, 0)).astype(int) for im in ds.images)
    assert red[..., 0].mean() > 230 and red[..., 1:].mean() < 30  # CMYK red stays red
    assert (half[:6, :, 0] >= 195).all() and (half[:6, :, 1] <= 5).all()
    assert (half[10:] >= 250).all()  # transparent → white background, not black
    assert (clear >= 250).all()


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    d = tmp_path / "set" / "x"
    d.mkdir(parents=True)
    pixels = np.zeros((16, 32), np.uint8)
    pixels[:, :16] = 255  # left half white, stored landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(pixels).save(d / "phone.jpg", exif=exif, quality=100)
    ds = read_folder(tmp_path / "set", size=16, val_fraction=0, test_fraction=0)
    shown = ds.images[0, 0].astype(int)
    assert shown[:6].mean() > 200 and shown[10:].mean() < 50  # white half now on top


def test_unreadable_file_is_one_line_naming_it_or_skipped_and_counted(tmp_path):
    _write_every_format(tmp_path / "set")
    (tmp_path / "set" / "happy" / "broken.tiff").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match=r"broken\.tiff: cannot read image") as err:
        read_folder(tmp_path / "set", size=8)
    assert "\n" not in str(err.value)
    ds = read_folder(tmp_path / "set", size=8, skip_bad=True, val_fraction=0, test_fraction=0)
    assert ds.skipped["count"] == 1 and "broken.tiff" in ds.skipped["examples"][0]


def test_labels_from_a_csv_with_named_columns(tmp_path):
    from PIL import Image

    root = tmp_path / "flat"
    (root / "images").mkdir(parents=True)
    rows = ["file,emotion"]
    for i in range(12):
        Image.fromarray(_face(i, (8, 8))).save(root / "images" / f"{i:03d}.png")
        name = f"images/{i:03d}.png" if i % 2 else f"{i:03d}.png"  # relative path or bare name
        rows.append(f"{name},{['anger', 'joy', 'fear'][i % 3]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = read_folder(
        root, size=8, labels=tmp_path / "labels.csv", label_col="emotion", filename_col="file",
        val_fraction=0, test_fraction=0,
    )  # fmt: skip
    assert ds.classes == ["anger", "fear", "joy"]
    assert ds.source["layout"] == "csv"
    assert np.bincount(ds.labels).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(ds.images[3].transpose(1, 2, 0), _face(3, (8, 8)))
    with pytest.raises(DataError, match="no column 'label'"):
        read_folder(root, size=8, labels=tmp_path / "labels.csv", filename_col="file")


def test_train_split_ratio():
    assert resolve_fractions(0.8, None, None) == pytest.approx((0.1, 0.1))
    assert resolve_fractions(0.7, 0.2, None) == pytest.approx((0.2, 0.1))
    assert resolve_fractions(None, None, None) == (0.1, 0.1)
    with pytest.raises(UserError, match="add up to 1"):
        resolve_fractions(0.8, 0.3, 0.3)


def test_split_plan_fractions_reach_the_split(tmp_path):
    from tests.data.conftest import write_tree

    root = write_tree(tmp_path / "pool", "pool", {"a": 20, "b": 20})
    ds = read_folder(root, size=8, plan=SplitPlan(val_fraction=0.25, test_fraction=0.25))
    assert {k: sum(v.values()) for k, v in ds.counts().items()} == {
        "train": 20, "val": 10, "test": 10,
    }  # fmt: skip
