// tb.data: datasets, loaders, splits, normalisation and the bundled datasets.

export { Dataset, TensorDataset, Subset, DataLoader, split, randperm, featureStats, standardize, minMaxScale, type DataLoaderOptions, type FeatureStats } from "./dataset.js";
export { digits, iris, fashionMnist, csv, readIdx, packageRoot, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, type ClassificationDataset, type CsvDataset, type CsvOptions, type IdxArray } from "./datasets.js";
