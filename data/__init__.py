"""Data generators and loaders for representation pretraining (not environments: those are in ``envs``).

* :mod:`data.tables`: tables for T-JEPA (bundled, generated, CSV / Parquet files, env states).
* :mod:`data.views3d`: 3DIEBench-like views of rotated objects rendered with MuJoCo, and quaternion algebra.
* :mod:`data.view_sequences`: sequences of views (and their relative rotations) for seq-JEPA.
* :mod:`data.lidar`: MuJoCo ray-cast LiDAR (street scenes and the OGBench maze) as bird's-eye-view grids.
* :mod:`data.trajectories`: windows of an offline RL dataset's episodes (observations or rendered frames).
* :mod:`data.frames`: frames and short clips of the offline datasets for the vision JEPAs.
* :mod:`data.ui_activity`: generated UI screen recordings of user intents (UI-JEPA), and their folder format.
"""
