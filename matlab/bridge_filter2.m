function Y = bridge_filter2(varargin)
%BRIDGE_FILTER2  MATLAB's filter2, computed by the Python worker of bridge.
%   Y = BRIDGE_FILTER2(H, X) filters the data X with the 2-D FIR filter H: the central part of
%   the correlation, conv2(X, rot90(H, 2), 'same').
%   Y = BRIDGE_FILTER2(H, X, SHAPE) returns the 'same' (default), 'full' or 'valid' part.
%   Y = BRIDGE_FILTER2(..., 'Python', PYTHON) runs the interpreter PYTHON.
%
%   The result has conv2's size and class: single if an input is single, double otherwise,
%   complex if an input is complex.
%
%   Errors (identifiers), as MATLAB's filter2/conv2 where MATLAB has one:
%     MATLAB:conv2:unknownShapeParameter   SHAPE is not 'full', 'same' or 'valid'
%     MATLAB:conv2:inputType               H or X is not numeric or logical
%     bridge:conv2:notMatrix               H or X has more than two dimensions
%     MATLAB:minrhs, MATLAB:maxrhs         too few or too many arguments
%   and the worker's own, as for BRIDGE_CONV2.
%
%   Example:
%     Y = bridge_filter2([1 2 1; 0 0 0; -1 -2 -1], magic(6), 'valid')
%
%   See also FILTER2, BRIDGE_CONV2, BRIDGE_XCORR2, BRIDGE_IMFILTER.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 2, 3);
shape = 'same';
if numel(args) == 3
  shape = bridge_shape(args, 3, 'MATLAB:conv2:unknownShapeParameter');
end
Y = bridge_call('bridge_filter2', 'filter2', {'h', 'X'}, bridge_operands(args(1:2)), ...
  struct('shape', shape), python);
end
