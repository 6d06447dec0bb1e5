"""File formats: YTVIS dataset and results JSON, per-frame COCO (cocovid), DAVIS palette PNGs, overlay videos."""
from clipvis.formats.cocovid import dataset_to_cocovid, write_cocovid
from clipvis.formats.davis import DAVIS_PALETTE, export_davis, read_davis
from clipvis.formats.overlay import draw_overlay, export_overlay, instance_color, write_overlay_video
from clipvis.formats.results import (
    dataset_to_results, read_results, results_from_json, results_to_dataset, results_to_json, write_results,
)
from clipvis.formats.rle import RLEError, check_rle, mask_to_rle, rle_area, rle_bbox, rle_to_mask, to_compressed
from clipvis.formats.validate import YTVISError
from clipvis.formats.ytvis import (
    Annotation, Category, Video, YTVISDataset, merge_datasets, read_dataset, write_dataset,
)

Track = Annotation  # the same thing seen from the engine: one instance over a video

__all__ = [
    "DAVIS_PALETTE", "draw_overlay", "export_davis", "export_overlay", "instance_color", "read_davis",
    "write_overlay_video", "Annotation", "Category", "RLEError", "Track", "Video", "YTVISDataset", "YTVISError",
    "check_rle", "dataset_to_cocovid", "dataset_to_results", "mask_to_rle", "merge_datasets", "read_dataset",
    "read_results", "results_from_json", "results_to_dataset", "results_to_json", "rle_area", "rle_bbox", "rle_to_mask",
    "to_compressed", "write_cocovid", "write_dataset", "write_results",
]
