function C = bridge_xcorr2(varargin)
%BRIDGE_XCORR2  MATLAB's xcorr2 (Signal Processing Toolbox), computed by the Python worker.
%   C = BRIDGE_XCORR2(A, B) is the 2-D cross-correlation of the matrices A and B,
%   conv2(A, rot90(conj(B), 2)), of size size(A) + size(B) - 1.
%   C = BRIDGE_XCORR2(A) is the autocorrelation, BRIDGE_XCORR2(A, A).
%   C = BRIDGE_XCORR2(..., 'Python', PYTHON) runs the interpreter PYTHON.
%
%   Errors as BRIDGE_CONV2's (MATLAB:conv2:inputType, bridge:conv2:notMatrix, ...).
%
%   Example:
%     C = bridge_xcorr2(magic(4), [1 2; 3 4])
%
%   See also XCORR2, BRIDGE_FILTER2, BRIDGE_CONV2.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 1, 2);
names = {'a', 'b'};
C = bridge_call('bridge_xcorr2', 'xcorr2', names(1:numel(args)), bridge_operands(args), ...
  struct(), python);
end
