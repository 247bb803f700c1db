const heapstat = native("xs_heapstat");
export default heapstat;
