"""Image files and in-memory images -> square uint8 tensors (N, S, S, 3).

Each image is brought to the model's size on its own: the shorter side resized and the
centre cropped. An image smaller than the model's input is kept at its native size when
the whole set shares it (CIFAR's 32 px: the evaluation transform upsamples on the fly),
and every image is brought to ``image_size`` when sizes differ, so one odd file never
changes the others. Each file is decoded once per process.
"""
from __future__ import annotations

import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import MscadError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MIN_IMAGE_SIDE = 8  # below this an image holds no object worth scoring

_DECODED: dict = {}  # (path, image_size) -> uint8 array: each file is decoded once per process


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def is_image_file(path: Path) -> bool:
    """An image by its extension; hidden files (macOS ``._*`` resource forks) are not."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list:
    """Image files directly in ``folder``, in natural order (2.jpg before 10.jpg).

    Sub-folders are not read (the same rule for the command line and the detector); a
    warning says how many images they hold, if any."""
    folder = Path(folder)
    files = sorted((p for p in folder.iterdir() if p.is_file() and is_image_file(p)), key=_natural_key)
    nested = sum(1 for d in folder.iterdir() if d.is_dir()
                 for p in d.rglob("*") if p.is_file() and is_image_file(p))
    if nested:
        warnings.warn(f"{folder} has {nested} images in sub-folders; they are not read (put the "
                      "images directly in the folder).", stacklevel=2)
    return files


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB, with 16- and 32-bit grayscale scaled to 8 bits (PIL's own convert clips them)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray(np.round(np.clip(a, 0, top) * (255.0 / top)).astype(np.uint8), "L")
    elif im.mode == "F":  # float pixels: the one rule of float_to_uint8
        im = Image.fromarray(float_to_uint8(np.asarray(im), "a 32-bit float image"), "L")
    return im.convert("RGB")


def float_to_uint8(a, what: str) -> np.ndarray:
    """Float pixels in [0, 1] (torchvision's ToTensor range) -> uint8, the one rule for
    every float input. Anything else is refused with the range found, as scikit-learn's
    check_array refuses bad input: a silent clip would saturate 0..255 images to white
    and make [-1, 1] images 63% black; NaN or infinite pixels have no colour at all."""
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise MscadError(f"{what} has {bad} NaN or infinite pixel value(s); fix or drop the image.")
    low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if low < 0 or high > 1:
        hint = (" (it looks like 0..255: divide by 255, or give uint8)" if high > 1 and low >= 0
                else " (it looks normalised: undo the normalisation, e.g. x * 0.5 + 0.5 for "
                "[-1, 1])" if low < 0 else "")
        raise MscadError(f"{what} has float pixels from {low:.6g} to {high:.6g}; float images must be "
                         f"in [0, 1]{hint}.")
    return np.round(a * 255).astype(np.uint8)


def square_image(im: Image.Image, side: int) -> np.ndarray:
    """RGB uint8 (S, S, 3) with S = min(side, shorter side): the shorter side resized to
    S, then the centre cropped."""
    im = _to_rgb(im)
    w, h = im.size
    side = min(w, h, side)
    if (w, h) != (side, side):
        scale = side / min(w, h)
        im = im.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.BILINEAR)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side))
    return np.asarray(im, dtype=np.uint8)


def _decode(path: Path, image_size: int) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if min(im.size) < MIN_IMAGE_SIDE:
                raise MscadError(f"image {path} is {im.size[0]}x{im.size[1]} px, smaller than "
                                 f"{MIN_IMAGE_SIDE} px on a side; delete or replace it.")
            return square_image(im, image_size)
    except MscadError as e:  # a float image out of range, say: name the file
        raise MscadError(str(e) if str(path) in str(e) else f"image {path}: {e}") from None
    except Image.DecompressionBombError as e:
        raise MscadError(f"image {path} is too large to open safely ({e}); shrink it, or raise "
                         "PIL.Image.MAX_IMAGE_PIXELS if you trust the file.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if isinstance(e, MscadError):
            raise
        raise MscadError(f"cannot read image {path} ({type(e).__name__}: {e}); "
                         "delete or replace the file and run again.") from e


def _common_size(arrays: list, image_size: int, names) -> torch.Tensor:
    """Stack square arrays; when their sides differ, bring each to ``image_size``."""
    sides = [a.shape[0] for a in arrays]
    if len(set(sides)) > 1:
        typical = int(np.median(sides))
        small = [str(n) for n, side in zip(names, sides) if side < typical]
        if small:  # name the odd ones out: they may be thumbnails or wrong files
            warnings.warn(f"{len(small)} image(s) are smaller than the others ({typical} px) and are "
                          f"enlarged to {image_size} px: {', '.join(small[:3])}"
                          f"{' ...' if len(small) > 3 else ''}", stacklevel=3)
        arrays = [a if a.shape[0] == image_size else
                  np.asarray(Image.fromarray(a).resize((image_size, image_size), Image.BILINEAR))
                  for a in arrays]
    return torch.from_numpy(np.stack(arrays))


def decode_images(paths, image_size: int, keep: bool = True) -> torch.Tensor:
    """Decode image files into one uint8 tensor (N, S, S, 3); each file once per process,
    or, with ``keep=False``, without keeping the decoded images (a pass over 60,000
    images at 260 px would hold 12 GB)."""
    paths = [Path(p) for p in paths]
    if not paths:
        return torch.empty((0, image_size, image_size, 3), dtype=torch.uint8)
    store = _DECODED if keep else {k: _DECODED[k] for k in ((p, image_size) for p in paths)
                                     if k in _DECODED}
    missing = list(dict.fromkeys(p for p in paths if (p, image_size) not in store))
    if missing:
        # PIL releases the GIL while decoding, so threads use every core.
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for p, a in zip(missing, pool.map(lambda q: _decode(q, image_size), missing)):
                store[(p, image_size)] = a
    return _common_size([store[(p, image_size)] for p in paths], image_size, paths)


def pixels_to_uint8(x, what: str) -> np.ndarray:
    """Pixels of any array or tensor as uint8, by one rule: uint8 as is; floats must be in
    [0, 1] (:func:`float_to_uint8`); other integers as they are when every value is in
    0..255, 16-bit unsigned images scaled by their range (65535 -> 255), anything else
    refused with the range found; booleans (masks) and tensors without data (the ``meta``
    device) refused."""
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            raise MscadError(f"{what} is a tensor on the 'meta' device, which holds no pixel values; "
                             "give a tensor with data (e.g. on the CPU).")
        x = x.detach().cpu()
        x = x.numpy() if x.dtype != torch.bfloat16 else x.float().numpy()
    a = np.asarray(x)
    if a.dtype == np.bool_:
        raise MscadError(f"{what} is boolean (a mask?), not an image; give uint8 pixels (0..255) or "
                         "floats in [0, 1].")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return float_to_uint8(a, what)
    if not np.issubdtype(a.dtype, np.integer):
        raise MscadError(f"{what} has {a.dtype} pixels; give uint8 (0..255) or floats in [0, 1].")
    if a.dtype == np.uint16:  # a 16-bit image (PNG, microscopy): always scaled by its range,
        # as a 16-bit file is decoded, whatever its values
        return np.round(a.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    low, high = (int(a.min()), int(a.max())) if a.size else (0, 0)
    if 0 <= low and high <= 255:
        return a.astype(np.uint8)
    raise MscadError(f"{what} has {a.dtype} pixels from {low} to {high}; give uint8 (0..255), "
                     "16-bit unsigned images (0..65535) or floats in [0, 1].")


def _pil_from(item, i: int) -> Image.Image:
    if isinstance(item, (tuple, list)) and item and not isinstance(item[0], (int, float)):
        item = item[0]  # (image, label) pairs of a Dataset
    if isinstance(item, Image.Image):
        return item
    if isinstance(item, (np.ndarray, torch.Tensor)):
        a = pixels_to_uint8(item, f"item {i}")
        if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
            a = a.transpose(1, 2, 0)  # CHW (torchvision's ToTensor) -> HWC
        if a.ndim == 3 and a.shape[-1] == 1:
            a = np.repeat(a, 3, axis=-1)
        if a.ndim != 3 or a.shape[-1] != 3:
            raise MscadError(f"item {i} has shape {tuple(a.shape)}; give images as (H, W, 3) or "
                             "(3, H, W) arrays or tensors, or PIL images.")
        return Image.fromarray(np.ascontiguousarray(a))
    raise MscadError(f"item {i} is a {type(item).__name__}; give PIL images, or (H, W, 3) uint8 / "
                     "(3, H, W) float arrays or tensors.")


def as_images(x, image_size: int) -> torch.Tensor:
    """A folder or image file, a list of PIL images / arrays / tensors, a uint8 array
    (N, H, W, 3) or a torch Dataset -> uint8 tensor (N, S, S, 3), square, at most
    ``image_size`` on a side."""
    if isinstance(x, (str, Path)):
        path = Path(x)
        if path.is_file():
            if not is_image_file(path):
                raise MscadError(f"{path} is not an image file ({', '.join(sorted(IMAGE_EXTENSIONS))}).")
            return decode_images([path], image_size)
        if not path.is_dir():
            raise MscadError(f"{path} does not exist; give a folder of images or an image file.")
        paths = list_images(path)
        if not paths:
            nested = sum(1 for p in path.rglob("*") if p.is_file() and is_image_file(p))
            where = (f" ({nested} in sub-folders, which are not read: give one of them)" if nested
                     else "")
            raise MscadError(f"no images (jpg/png) directly in {path}{where}; put the images there.")
        return decode_images(paths, image_size)
    if isinstance(x, (np.ndarray, torch.Tensor)):
        if tuple(x.shape)[-1:] != (3,) or len(x.shape) != 4:
            raise MscadError(f"an image array must be (N, H, W, 3), uint8 (or float in [0, 1]), got "
                             f"{x.dtype} {tuple(x.shape)}.")
        arr = pixels_to_uint8(x, "the image array")
        pil = [Image.fromarray(np.ascontiguousarray(a)) for a in arr]
    elif isinstance(x, (torch.utils.data.Dataset, list, tuple)):
        pil = [_pil_from(x[i], i) for i in range(len(x))]
    else:
        raise MscadError(f"cannot read images from a {type(x).__name__}; give a folder, a list of PIL "
                         "images, a uint8 array (N, H, W, 3) or a torch Dataset.")
    if not pil:
        raise MscadError("no images given.")
    small = [i for i, im in enumerate(pil) if min(im.size) < MIN_IMAGE_SIDE]
    if small:
        raise MscadError(f"image {small[0]} is {pil[small[0]].size[0]}x{pil[small[0]].size[1]} px, "
                         f"smaller than {MIN_IMAGE_SIDE} px on a side; remove it.")
    return _common_size([square_image(im, image_size) for im in pil], image_size,
                        [f"item {i}" for i in range(len(pil))])
