public enum LabPlaceholder {}
